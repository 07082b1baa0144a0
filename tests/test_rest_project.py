"""REST: projects (create, list, read, update, delete, status, slides) with access and validation."""
import json

import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk


def count(model):
    return model().find({}).count()


@pytest.mark.plugin('histomics_label')
def test_create_project_from_a_folder(server, admin, slide_item):
    resp = server.request('/histomics_label/project', method='POST', user=admin, params={
        'folderId': str(slide_item['folderId']), 'settings': json.dumps({'radius': 80, 'modelKind': 'linear'})})
    assertStatusOk(resp)
    project = resp.json
    assert project['name'] == 'Study'  # the folder's name
    assert project['settings']['radius'] == 80 and project['settings']['modelKind'] == 'linear'
    assert project['settings']['certaintyMetric'] == 'batchbald'  # defaults fill the rest
    assert project['_accessLevel'] == 2
    status = server.request('/histomics_label/project/%s/status' % project['_id'], user=admin).json
    assert [s['name'] for s in status['slides']] == ['CMU-1-Small-Region.svs']
    assert status['slides'][0]['segmented'] is False and status['totals']['labeled'] == 0


@pytest.mark.plugin('histomics_label')
@pytest.mark.parametrize('settings,message', [
    ({'radius': 2}, 'radius is out of range'),
    ({'radius': 'big'}, 'radius must be a int'),
    ({'modelKind': 'svm'}, 'modelKind is out of range'),
    ({'colour': 'red'}, "Unknown setting 'colour'"),
    ({'retrainInterval': 1.5}, 'retrainInterval must be a int'),
    ({'modelKind': 'linear', 'modelBackend': 'keras'}, 'Model kind linear has no keras backend'),
    ({'modelKind': 'cnn'}, 'set featureKind to patches'),
    ({'certaintyMetric': 'entropy'}, 'certaintyMetric is out of range'),
    ({'backbone': 'resnet9000'}, 'backbone is out of range'),
    ({'backbone': 'uni'}, 'Backbone uni needs weightsPath'),
    ({'backbone': 'timm:vit_large_patch16_224', 'weightsPath': 'weights/uni.bin'}, 'weightsPath is out of range'),
])
def test_create_rejects_bad_settings_and_writes_nothing(server, admin, slide_item, settings, message):
    from histomics_label.models.project import Project

    resp = server.request('/histomics_label/project', method='POST', user=admin, params={
        'folderId': str(slide_item['folderId']), 'settings': json.dumps(settings)})
    assertStatus(resp, 400)
    assert message in resp.json['message']
    assert count(Project) == 0


@pytest.mark.plugin('histomics_label')
def test_one_project_per_folder(server, admin, project, slide_item):
    resp = server.request('/histomics_label/project', method='POST', user=admin, params={
        'folderId': str(slide_item['folderId'])})
    assertStatus(resp, 400)
    assert 'already holds project' in resp.json['message']


@pytest.mark.plugin('histomics_label')
def test_the_data_folder_follows_the_project_folders_access(server, admin, labeler, project):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    from histomics_label.models.project import Project

    data = Project().data_folder(project, admin)
    assert not Folder().hasAccess(data, labeler, AccessType.WRITE)
    # write access granted later on the project folder alone (not its subfolders) reaches the data folder
    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    data = Project().data_folder(project, labeler)
    assert Folder().hasAccess(data, labeler, AccessType.WRITE)
    assert not Folder().hasAccess(data, labeler, AccessType.ADMIN)


@pytest.mark.plugin('histomics_label')
def test_access_follows_the_folder(server, admin, labeler, project, slide_item):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    path = '/histomics_label/project/%s' % project['_id']
    assertStatus(server.request(path), 401)
    # public folder: the labeler can read but not change or delete
    assertStatusOk(server.request(path, user=labeler))
    listed = server.request('/histomics_label/project', user=labeler).json
    assert [p['_id'] for p in listed] == [str(project['_id'])]
    listed = server.request('/histomics_label/project', user=labeler,
                            params={'folderId': str(slide_item['folderId'])}).json
    assert [p['_id'] for p in listed] == [str(project['_id'])]
    assert server.request('/histomics_label/project', user=labeler, params={'folderId': '0' * 24}).json == []
    assertStatus(server.request(path, method='PUT', user=labeler, params={'name': 'Mine'}), 403)
    assertStatus(server.request(path, method='DELETE', user=labeler), 403)
    assertStatus(server.request(path + '/slides', method='POST', user=labeler), 403)
    assertStatus(server.request('/histomics_label/project', method='POST', user=labeler, params={
        'folderId': str(slide_item['folderId'])}), 403)
    # a private folder hides the project
    folder = Folder().load(slide_item['folderId'], force=True)
    Folder().setPublic(folder, False, save=True)
    assertStatus(server.request(path, user=labeler), 403)
    assertStatus(server.request(path + '/status', user=labeler), 403)
    assert server.request('/histomics_label/project', user=labeler).json == []
    # folder admin rights make the labeler a project admin
    Folder().setUserAccess(folder, labeler, AccessType.ADMIN, save=True)
    resp = server.request(path, method='PUT', user=labeler, params={
        'name': 'Renamed', 'settings': json.dumps({'certaintyMetric': 'margin'})})
    assertStatusOk(resp)
    assert resp.json['name'] == 'Renamed' and resp.json['settings']['certaintyMetric'] == 'margin'
    assert resp.json['settings']['radius'] == 100  # untouched settings stay


@pytest.mark.plugin('histomics_label')
def test_update_rejects_bad_settings_and_keeps_the_old_ones(server, admin, project):
    path = '/histomics_label/project/%s' % project['_id']
    resp = server.request(path, method='PUT', user=admin, params={'settings': json.dumps({'magnification': 0})})
    assertStatus(resp, 400)
    assert server.request(path, user=admin).json['settings'] == project['settings']


@pytest.mark.plugin('histomics_label')
def test_slides_added_mid_project_are_picked_up(server, admin, project, slide_item, fsAssetstore):
    import os

    from girder.models.folder import Folder
    from girder.models.upload import Upload

    from conftest import SLIDE

    folder = Folder().load(slide_item['folderId'], force=True)
    with open(SLIDE, 'rb') as f:
        Upload().uploadFromFile(f, os.path.getsize(SLIDE), 'second.svs', parentType='folder', parent=folder,
                                user=admin)
    resp = server.request('/histomics_label/project/%s/slides' % project['_id'], method='POST', user=admin)
    assertStatusOk(resp)
    assert [(s['name'], s['index']) for s in resp.json] == [('second.svs', 1)]
    status = server.request('/histomics_label/project/%s/status' % project['_id'], user=admin).json
    assert [s['name'] for s in status['slides']] == ['CMU-1-Small-Region.svs', 'second.svs']
    again = server.request('/histomics_label/project/%s/slides' % project['_id'], method='POST', user=admin)
    assert again.json == []


@pytest.mark.plugin('histomics_label')
def test_delete_removes_the_project_and_what_it_owns(server, admin, project, segmented):
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide

    category = server.request('/histomics_label/project/%s/category' % project['_id'], method='POST',
                              user=admin, params={'name': 'Tumor'}).json
    server.request('/histomics_label/project/%s/label' % project['_id'], method='PUT', user=admin,
                   body=json.dumps({'itemId': str(segmented['itemId']),
                                    'labels': [{'superpixel': 1, 'categoryId': category['_id']}]}),
                   type='application/json')
    assert count(Label) == 1
    path = '/histomics_label/project/%s' % project['_id']
    resp = server.request(path, method='DELETE', user=admin)  # labels are never deleted silently
    assertStatus(resp, 400)
    assert 'has 1 labels' in resp.json['message'] and 'deleteLabels=true' in resp.json['message']
    assert count(Project) == count(Category) == count(Label) == count(ProjectSlide) == 1
    assert any(c.count_documents({'projectId': project['_id']}) for c in Project().owned_collections()
               if c.name.startswith('histomics_label_agreement'))  # agreement statistics follow the labels
    assertStatusOk(server.request(path, method='DELETE', user=admin, params={'deleteLabels': 'true'}))
    assert count(Project) == count(Category) == count(Label) == count(ProjectSlide) == 0
    left = {c.name: c.count_documents({'$or': [{'projectId': project['_id']}, {'_id': project['_id']}]})
            for c in Project().owned_collections()}
    assert len(left) >= 10 and not any(left.values()), left


@pytest.mark.plugin('histomics_label')
def test_deleting_the_folder_deletes_its_project(server, admin, project):
    from girder.models.folder import Folder

    from histomics_label.models.project import Project

    Folder().remove(Folder().load(project['folderId'], force=True))
    assert count(Project) == 0
