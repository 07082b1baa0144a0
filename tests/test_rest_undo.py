"""Ctrl-Z on the server: undo a labeler's writes newest first, never anyone else's; label counts per category."""
import json

import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk


def put(server, user, project, item, labels):
    resp = server.request('/histomics_label/project/%s/label' % project['_id'], method='PUT', user=user,
                          type='application/json', body=json.dumps({'itemId': item, 'labels': labels}))
    assertStatusOk(resp)
    return resp.json


def mine(project, user):
    from histomics_label.models.label import Label

    return {d['superpixel']: str(d['categoryId']) for d in Label().find({'projectId': project['_id'],
                                                                        'userId': user['_id']})}


@pytest.mark.plugin('histomics_label')
def test_undo_reverts_my_writes_newest_first(server, admin, labeler, project, segmented):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    from histomics_label.models.category import Category
    from histomics_label.models.label import LabelHistory

    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    tumor, stroma = (str(Category().create(project, name)['_id']) for name in ('Tumor', 'Stroma'))
    item = str(segmented['itemId'])
    first = put(server, labeler, project, item, [{'superpixel': i, 'categoryId': tumor} for i in range(5)])
    put(server, admin, project, item, [{'superpixel': 3, 'categoryId': stroma}])  # someone else's label
    put(server, labeler, project, item, [{'superpixel': i, 'categoryId': stroma} for i in range(3, 7)])
    assert mine(project, labeler) == {0: tumor, 1: tumor, 2: tumor, 3: stroma, 4: stroma, 5: stroma, 6: stroma}

    undo = '/histomics_label/project/%s/label/undo' % project['_id']
    resp = server.request(undo, method='POST', user=labeler)
    assertStatusOk(resp)
    assert sorted((e['superpixel'], e['categoryId']) for e in resp.json['labels']) == [
        (3, tumor), (4, tumor), (5, None), (6, None)]
    assert mine(project, labeler) == {i: tumor for i in range(5)}
    resp = server.request(undo, method='POST', user=labeler)
    assertStatusOk(resp)
    assert resp.json['writeId'] == first['writeId'] and mine(project, labeler) == {}
    assert mine(project, admin) == {3: stroma}  # never anyone else's
    resp = server.request(undo, method='POST', user=labeler)
    assertStatus(resp, 400)
    assert 'no label write left to undo' in resp.json['message']
    undos = LabelHistory().find({'userId': labeler['_id'], 'source': 'undo'}).count()
    assert undos == 9  # 4 + 5 superpixels, recorded like any other change
    resp = server.request(undo, method='POST', user=None)
    assertStatus(resp, 401)


@pytest.mark.plugin('histomics_label')
def test_counts_per_category_mine_and_everyones_after_merges(server, admin, labeler, project, segmented):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    from histomics_label.models.category import Category

    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    tumor, stroma, fat = (Category().create(project, name) for name in ('Tumor', 'Stroma', 'Fat'))
    item = str(segmented['itemId'])
    put(server, labeler, project, item, [{'superpixel': i, 'categoryId': str(tumor['_id'])} for i in range(4)])
    put(server, admin, project, item, [{'superpixel': i, 'categoryId': str(fat['_id'])} for i in range(2)])
    put(server, admin, project, item, [{'superpixel': 9, 'categoryId': str(stroma['_id'])}])
    Category().merge(fat, stroma)
    resp = server.request('/histomics_label/project/%s/label/counts' % project['_id'], user=labeler)
    assertStatusOk(resp)
    assert resp.json == {'categories': {str(tumor['_id']): {'mine': 4, 'everyone': 4},
                                        str(stroma['_id']): {'mine': 0, 'everyone': 3}},
                         'total': {'mine': 4, 'everyone': 7}}
