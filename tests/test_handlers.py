"""Girder events: deleting a slide item, a project's folder or the project leaves nothing dangling and never
deletes labels silently."""
import json
import os

import numpy as np
import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

from conftest import SLIDE, SUPERPIXELS


def add_slide(admin, folder_id, name):
    """Another large image in the project folder."""
    from girder.models.upload import Upload
    from girder_large_image.models.image_item import ImageItem

    with open(SLIDE, 'rb') as f:
        file = Upload().uploadFromFile(f, os.path.getsize(SLIDE), name, parentType='folder',
                                       parent={'_id': folder_id, '_modelType': 'folder'}, user=admin)
    item = ImageItem().load(file['itemId'], force=True)
    if 'largeImage' not in item:
        ImageItem().createImageItem(item, file, user=admin, createJob=False)
    return item


def segment(slide):
    from histomics_label.models.superpixels import SuperpixelGeometry

    centroids = np.array([(i % 10 * 200 + 100, i // 10 * 250 + 125) for i in range(SUPERPIXELS)], dtype=float)
    return SuperpixelGeometry().store(slide, centroids, np.hstack([centroids - 50, centroids + 50]))


def epoch_arrays(columns, ranking):
    """Predictions for slides 0 and 1 (rows 0-99 and 100-199) ranked by ``ranking``."""
    rng = np.random.default_rng(len(ranking))
    probabilities = rng.dirichlet(np.ones(columns), size=2 * SUPERPIXELS).astype(np.float32)
    return {'slide_index': np.repeat([0, 1], SUPERPIXELS), 'superpixel': np.tile(np.arange(SUPERPIXELS), 2),
            'predicted': probabilities.argmax(axis=1), 'probabilities': probabilities,
            'certainty': probabilities.max(axis=1), 'ranking': np.asarray(ranking)}


@pytest.fixture
def two_slides(admin, labeler, project, slide_item, monkeypatch):
    """Two segmented slides (indices 0 and 1) labeled by two users and assigned to both in a study, with two
    published epochs whose rankings are stored in chunks of 50 (slide 1 first, so its removal empties whole
    chunks)."""
    from girder.constants import AccessType
    from girder.models.folder import Folder

    from histomics_label.models import prediction
    from histomics_label.models.assignment import Assignment
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    folder = Folder().load(project['folderId'], force=True)
    Folder().setUserAccess(folder, labeler, AccessType.WRITE, save=True)
    add_slide(admin, folder['_id'], 'second.svs')
    ProjectSlide().sync(project, folder)
    first, second = [segment(s) for s in ProjectSlide().list(project)]
    assert (first['index'], second['index']) == (0, 1) and second['name'] == 'second.svs'
    categories = [Category().create(project, name) for name in ('Tumor', 'Stroma')]
    for user, superpixels in ((admin, (0, 1, 2)), (labeler, (3,))):
        for slide in (first, second):
            Label().write(project, slide, user, [{'superpixel': s, 'categoryId': str(categories[s % 2]['_id'])}
                                                 for s in superpixels], categories,
                          SuperpixelGeometry().geometry(slide)[0])
    Assignment().create(project, admin, 'Study', [first, second], [admin['_id'], labeler['_id']], overlap=2,
                        quota=10, sampling='random', seed=0)
    monkeypatch.setattr(prediction, 'RANKING_CHUNK', 50)
    ranking = np.r_[np.arange(SUPERPIXELS, 2 * SUPERPIXELS), np.arange(SUPERPIXELS)[::-1]]
    for epoch in (1, 2):
        indices = prediction.store_epoch(project, epoch, epoch_arrays(2, ranking), [c['_id'] for c in categories])
        project = Project().publish_epoch(project, epoch, indices, {'kind': 'mlp'})
    return project, first, second, categories


def slide_keys(keys, index):
    return [int(k) for k in keys if int(k) >> 32 == index]


@pytest.mark.plugin('histomics_label')
def test_deleting_a_slide_item_drops_the_slide_and_keeps_its_labels(server, admin, labeler, two_slides):
    from girder.models.folder import Folder
    from girder.models.item import Item

    from histomics_label.models.assignment import Assignment, AssignmentSample

    from histomics_label.models.label import Label, LabeledKeys, LabelHistory
    from histomics_label.models.prediction import Prediction, Ranking
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    project, first, second, categories = two_slides
    path = '/histomics_label/project/%s' % project['_id']
    before = server.request(path + '/next', user=labeler, params={'limit': 3}).json  # caches the ranking
    assert [(n['itemId'], n['superpixel']) for n in before] == [(str(second['itemId']), s) for s in (0, 1, 2)]
    labels, history = (Label().find({'itemId': second['itemId']}).count(),
                       LabelHistory().find({'itemId': second['itemId']}).count())
    assert labels == history == 4

    samples = {doc['itemId']: doc['superpixels'] for doc in AssignmentSample().find({'projectId': project['_id']})}
    assert set(samples) == {first['itemId'], second['itemId']}
    Item().remove(Item().load(second['itemId'], force=True))

    assert ProjectSlide().findOne({'itemId': second['itemId']}) is None
    # the study keeps its assignment (what was assigned) but no sample of the removed slide
    assert {doc['itemId']: doc['superpixels'] for doc in AssignmentSample().find({'projectId': project['_id']})} \
        == {first['itemId']: samples[first['itemId']]}
    assert Assignment().find({'projectId': project['_id']}).count() == 1
    assert SuperpixelGeometry().findOne({'slideId': second['_id']}) is None
    assert Prediction().find({'itemId': second['itemId']}).count() == 0
    assert Prediction().find({'itemId': first['itemId']}).count() == 2  # epochs 1 and 2 of the other slide
    chunks = list(Ranking().find({'projectId': project['_id']}))
    assert sorted((c['epoch'], c['chunk']) for c in chunks) == [(1, 2), (1, 3), (2, 2), (2, 3)]
    for chunk in chunks:
        keys = np.frombuffer(chunk['keys'], dtype=np.int64)
        assert len(keys) == 50 and not slide_keys(keys, 1)
    for user in (admin, labeler):
        keys = LabeledKeys().keys(project, user)
        assert not slide_keys(keys, 1) and slide_keys(keys, 0)
    # labels and history stay, in the exports too; the project says what was removed
    assert Label().find({'itemId': second['itemId']}).count() == labels
    assert LabelHistory().find({'itemId': second['itemId']}).count() == history
    exported = server.request(path + '/label', user=admin, params={'itemId': str(second['itemId'])}).json
    assert sorted((l['superpixel'], l['userId']) for l in exported) == sorted(
        [(s, str(admin['_id'])) for s in (0, 1, 2)] + [(3, str(labeler['_id']))])
    assert len(server.request(path + '/label/history', user=admin,
                              params={'itemId': str(second['itemId'])}).json) == history
    removed = Project().findOne({'_id': project['_id']})['removedSlides']
    assert [{k: v for k, v in r.items() if k != 'removed'} for r in removed] == [
        {'itemId': second['itemId'], 'name': 'second.svs', 'index': 1, 'labels': labels}]
    status = server.request(path + '/status', user=admin).json
    assert [s['itemId'] for s in status['slides']] == [str(first['itemId'])]
    assert status['removedSlides'][0]['itemId'] == str(second['itemId'])

    # the queue goes on with the other slide (its cached ranking was replaced), without my labels
    after = server.request(path + '/next', user=labeler, params={'limit': 3}).json
    assert [(n['itemId'], n['superpixel']) for n in after] == [(str(first['itemId']), s) for s in (99, 98, 97)]
    mine = server.request(path + '/next', user=labeler, params={'limit': 100}).json
    assert len(mine) == 99 and 3 not in {n['superpixel'] for n in mine}

    # a new slide never gets the removed slide's index
    add_slide(admin, project['folderId'], 'third.svs')
    added = ProjectSlide().sync(Project().findOne({'_id': project['_id']}),
                                Folder().load(project['folderId'], force=True))
    assert [(s['name'], s['index']) for s in added] == [('third.svs', 2)]
    assert Label().find({'projectId': project['_id']}).count() == 8


@pytest.mark.plugin('histomics_label')
def test_an_epoch_trained_before_a_removal_is_stored_without_that_slide(server, admin, two_slides):
    from girder.models.item import Item

    from histomics_label.models.prediction import Prediction, Ranking, store_epoch
    from histomics_label.models.project import Project

    project, first, second, categories = two_slides
    Item().remove(Item().load(second['itemId'], force=True))
    project = Project().findOne({'_id': project['_id']})
    ranking = np.r_[np.arange(SUPERPIXELS, 2 * SUPERPIXELS), np.arange(SUPERPIXELS)]
    arrays = epoch_arrays(2, ranking)
    assert store_epoch(project, 3, arrays, [c['_id'] for c in categories]) == [0]
    Project().publish_epoch(project, 3, [0])
    assert [d['itemId'] for d in Prediction().find({'epoch': 3})] == [first['itemId']]
    keys = np.concatenate([np.frombuffer(c['keys'], dtype=np.int64)
                           for c in Ranking().find({'epoch': 3}, sort=[('chunk', 1)])])
    assert keys.tolist() == list(range(SUPERPIXELS))
    page = server.request('/histomics_label/project/%s/next' % project['_id'], user=admin, params={'limit': 2}).json
    assert [n['superpixel'] for n in page] == [3, 4]  # 0-2 are mine
    assert page[0]['categoryId'] == str(categories[arrays['predicted'][3]]['_id'])


@pytest.mark.plugin('histomics_label')
def test_deleting_another_item_changes_nothing(server, admin, two_slides):
    from girder.models.item import Item

    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide

    project, *_ = two_slides
    other = Item().createItem('notes', admin, Project().data_folder(project, admin))
    Item().remove(other)
    assert len(ProjectSlide().list(project)) == 2
    assert 'removedSlides' not in Project().findOne({'_id': project['_id']})


@pytest.mark.plugin('histomics_label')
def test_deleting_a_labeled_projects_folder_archives_it(server, admin, labeler, two_slides):
    from girder.models.folder import Folder

    from histomics_label.models.category import Category
    from histomics_label.models.label import Label, LabeledKeys, LabelHistory
    from histomics_label.models.prediction import Prediction, Ranking
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    project, first, second, _ = two_slides
    Folder().remove(Folder().load(project['folderId'], force=True))

    archived = Project().findOne({'_id': project['_id']})
    assert archived['archived']['reason'] == 'Its folder Study was deleted.'
    assert sorted((r['name'], r['index'], r['labels']) for r in archived['removedSlides']) == [
        ('CMU-1-Small-Region.svs', 0, 4), ('second.svs', 1, 4)]
    for model in (ProjectSlide, SuperpixelGeometry, Prediction, Ranking, LabeledKeys):
        assert model().find({'projectId': project['_id']}).count() == 0, model
    assert Label().find({'projectId': project['_id']}).count() == 8
    assert LabelHistory().find({'projectId': project['_id']}).count() == 8
    assert Category().find({'projectId': project['_id']}).count() == 2
    # the labels stay readable through the API, by site admins only (the folder that gave access is gone)
    path = '/histomics_label/project/%s' % project['_id']
    labels = server.request(path + '/label', user=admin, params={'limit': 0}).json
    assert sorted((l['itemId'], l['superpixel']) for l in labels) == sorted(
        (str(slide['itemId']), s) for slide in (first, second) for s in range(4))
    assert len(server.request(path + '/label/history', user=admin, params={'limit': 0}).json) == 8
    assertStatus(server.request(path + '/label', user=labeler), 403)


@pytest.mark.plugin('histomics_label')
def test_deleting_an_unlabeled_projects_folder_deletes_it(server, project):
    from girder.models.folder import Folder

    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide

    Folder().remove(Folder().load(project['folderId'], force=True))
    assert Project().findOne({'_id': project['_id']}) is None
    assert ProjectSlide().find({'projectId': project['_id']}).count() == 0


@pytest.mark.plugin('histomics_label')
def test_deleting_a_project_with_labels_must_be_explicit(server, admin, two_slides):
    from girder.exceptions import ValidationException

    from histomics_label.models.label import Label, LabelHistory
    from histomics_label.models.prediction import Ranking
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide

    project, *_ = two_slides
    with pytest.raises(ValidationException, match='has 8 labels and 8 label history entries'):
        Project().remove(project)
    assert Label().find({}).count() == 8 and Ranking().find({}).count() > 0 and len(ProjectSlide().list(project)) == 2
    path = '/histomics_label/project/%s' % project['_id']
    resp = server.request(path, method='DELETE', user=admin)
    assertStatus(resp, 400)
    assert 'deleteLabels' in resp.json['message'] and Project().findOne({'_id': project['_id']}) is not None
    assertStatusOk(server.request(path, method='DELETE', user=admin, params={'deleteLabels': json.dumps(True)}))
    assert Project().findOne({'_id': project['_id']}) is None
    for model in (Label, LabelHistory, Ranking, ProjectSlide):
        assert model().find({}).count() == 0, model
    left = {collection.name: collection.count_documents({'$or': [{'projectId': project['_id']},
                                                                 {'_id': project['_id']}]})
            for collection in Project().owned_collections() + [Project().collection]}
    assert 'histomics_label_assignment_sample' in left and not any(left.values()), left
