"""REST: categories; renames never rewrite labels, merges are undoable, deletes refuse used categories."""
import json

import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk


def add(server, user, project, **params):
    return server.request('/histomics_label/project/%s/category' % project['_id'], method='POST', user=user,
                          params=params)


def label(server, user, project, slide, superpixel, category):
    return server.request('/histomics_label/project/%s/label' % project['_id'], method='PUT', user=user,
                          type='application/json', body=json.dumps({
                              'itemId': str(slide['itemId']),
                              'labels': [{'superpixel': superpixel, 'categoryId': category['_id']}]}))


@pytest.mark.plugin('histomics_label')
def test_create_list_update_categories(server, admin, project):
    tumor = add(server, admin, project, name='Tumor', fillColor='#ff0000', hotkey='t').json
    stroma = add(server, admin, project, name='Stroma').json
    assert stroma['fillColor'] != tumor['fillColor'] and stroma['order'] == 1
    resp = server.request('/histomics_label/category/%s' % tumor['_id'], method='PUT', user=admin, params={
        'name': 'Carcinoma', 'fillColor': 'rgba(200, 0, 0, 0.5)', 'excluded': True})
    assertStatusOk(resp)
    listed = server.request('/histomics_label/project/%s/category' % project['_id'], user=admin).json
    assert [(c['name'], c['excluded'], c['hotkey']) for c in listed] == [
        ('Carcinoma', True, 't'), ('Stroma', False, None)]


@pytest.mark.plugin('histomics_label')
@pytest.mark.parametrize('params,message', [
    ({'name': ''}, 'name'),
    ({'name': 'tumor'}, 'already used'),  # names are unique regardless of case
    ({'name': 'Other', 'hotkey': 't'}, 'Hotkey'),
    ({'name': 'Other', 'hotkey': 'Tab'}, 'hotkey'),
    ({'name': 'Other', 'fillColor': 'reddish'}, 'fillColor'),
])
def test_bad_categories_are_rejected_and_not_written(server, admin, project, params, message):
    from histomics_label.models.category import Category

    add(server, admin, project, name='Tumor', hotkey='t')
    resp = add(server, admin, project, **params)
    assertStatus(resp, 400)
    assert message in resp.json['message']
    assert Category().find({}).count() == 1


@pytest.mark.plugin('histomics_label')
def test_category_access(server, admin, labeler, project):
    tumor = add(server, admin, project, name='Tumor').json
    assertStatus(add(server, None, project, name='X'), 401)
    assertStatus(add(server, labeler, project, name='X'), 403)  # read-only on the public folder
    assertStatusOk(server.request('/histomics_label/project/%s/category' % project['_id'], user=labeler))
    for method, path in (('PUT', ''), ('DELETE', ''), ('POST', '/unmerge')):
        assertStatus(server.request('/histomics_label/category/%s%s' % (tumor['_id'], path), method=method,
                                    user=labeler), 403)


@pytest.mark.plugin('histomics_label')
def test_rename_does_not_rewrite_labels_and_merge_is_undoable(server, admin, project, segmented):
    from histomics_label.models.label import Label

    tumor = add(server, admin, project, name='Tumor').json
    cancer = add(server, admin, project, name='Cancer').json
    assertStatusOk(label(server, admin, project, segmented, 3, tumor))
    assertStatusOk(label(server, admin, project, segmented, 4, cancer))
    before = list(Label().find({}, sort=[('superpixel', 1)]))
    server.request('/histomics_label/category/%s' % tumor['_id'], method='PUT', user=admin,
                   params={'name': 'Neoplasm'})
    assert list(Label().find({}, sort=[('superpixel', 1)])) == before

    resp = server.request('/histomics_label/category/%s/merge' % cancer['_id'], method='POST', user=admin,
                          params={'into': tumor['_id']})
    assertStatusOk(resp)
    effective = server.request('/histomics_label/project/%s/label/effective' % project['_id'], user=admin,
                               params={'itemId': str(segmented['itemId'])}).json
    assert {e['superpixel']: e['categoryId'] for e in effective} == {3: tumor['_id'], 4: tumor['_id']}
    assert list(Label().find({}, sort=[('superpixel', 1)])) == before  # labels untouched
    # a merged category takes no new labels, and merging back would make a cycle
    assertStatus(label(server, admin, project, segmented, 5, cancer), 400)
    assertStatus(server.request('/histomics_label/category/%s/merge' % tumor['_id'], method='POST',
                                user=admin, params={'into': cancer['_id']}), 400)

    assertStatusOk(server.request('/histomics_label/category/%s/unmerge' % cancer['_id'], method='POST',
                                  user=admin))
    effective = server.request('/histomics_label/project/%s/label/effective' % project['_id'], user=admin,
                               params={'itemId': str(segmented['itemId'])}).json
    assert {e['superpixel']: e['categoryId'] for e in effective} == {3: tumor['_id'], 4: cancer['_id']}


@pytest.mark.plugin('histomics_label')
def test_delete_only_unused_categories(server, admin, project, segmented):
    from histomics_label.models.category import Category

    used = add(server, admin, project, name='Used').json
    unused = add(server, admin, project, name='Unused').json
    label(server, admin, project, segmented, 0, used)
    resp = server.request('/histomics_label/category/%s' % used['_id'], method='DELETE', user=admin)
    assertStatus(resp, 400)
    assert 'merge it into another' in resp.json['message']
    assertStatusOk(server.request('/histomics_label/category/%s' % unused['_id'], method='DELETE', user=admin))
    assert [c['name'] for c in Category().find({})] == ['Used']
