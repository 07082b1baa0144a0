"""REST: storing an epoch's predictions, the ranked next-to-label queue, atomic epoch switch."""
import io
import json

import numpy as np
import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

from conftest import SUPERPIXELS


def upload_predictions(admin, folder_id, arrays, name='predictions.npz'):
    from girder.models.upload import Upload

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return Upload().uploadFromFile(io.BytesIO(buffer.getvalue()), len(buffer.getvalue()), name,
                                   parentType='folder', parent={'_id': folder_id, '_modelType': 'folder'},
                                   user=admin)


def make_arrays(category_ids, seed=0, count=SUPERPIXELS):
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(len(category_ids)), size=count).astype(np.float32)
    certainty = probabilities.max(axis=1)
    return {
        'slide_index': np.zeros(count, dtype=np.int32), 'superpixel': np.arange(count),
        'predicted': probabilities.argmax(axis=1), 'probabilities': probabilities, 'certainty': certainty,
        'ranking': np.argsort(certainty, kind='stable'), 'category_ids': np.array(category_ids)}


@pytest.fixture
def category_ids(project):
    from histomics_label.models.category import Category

    return [str(Category().create(project, name)['_id']) for name in ('Tumor', 'Stroma', 'Fat')]


def ingest(server, user, project, epoch, file):
    return server.request('/histomics_label/project/%s/epoch/%d/predictions' % (project['_id'], epoch),
                          method='POST', user=user, params={'fileId': str(file['_id']),
                                                            'model': json.dumps({'kind': 'mlp'})})


@pytest.mark.plugin('histomics_label')
def test_next_follows_the_ranking_and_skips_my_labels(server, admin, labeler, project, segmented, category_ids):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    arrays = make_arrays(category_ids)
    resp = ingest(server, admin, project, 1, upload_predictions(admin, project['folderId'], arrays))
    assertStatusOk(resp)
    assert resp.json['epoch'] == 1 and resp.json['model']['kind'] == 'mlp'
    order = arrays['ranking'].tolist()
    path = '/histomics_label/project/%s/next' % project['_id']
    first = server.request(path, user=admin, params={'limit': 5}).json
    assert [n['superpixel'] for n in first] == order[:5]
    top = first[0]
    assert top['categoryId'] == category_ids[arrays['predicted'][order[0]]]
    assert top['certainty'] == pytest.approx(arrays['certainty'][order[0]], abs=1e-4)
    assert sum(top['probabilities'].values()) == pytest.approx(1, abs=2e-3)
    page2 = server.request(path, user=admin, params={'limit': 5, 'offset': 5}).json
    assert [n['superpixel'] for n in page2] == order[5:10]

    # what I labeled leaves my queue, not the other labelers'
    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    server.request('/histomics_label/project/%s/label' % project['_id'], method='PUT', user=labeler,
                   type='application/json', body=json.dumps({'itemId': str(segmented['itemId']), 'labels': [
                       {'superpixel': s, 'categoryId': category_ids[0]} for s in order[:3]]}))
    mine = server.request(path, user=labeler, params={'limit': 5}).json
    assert [n['superpixel'] for n in mine] == order[3:8]
    # clearing a label puts the superpixel back in my queue
    server.request('/histomics_label/project/%s/label' % project['_id'], method='PUT', user=labeler,
                   type='application/json', body=json.dumps({'itemId': str(segmented['itemId']), 'labels': [
                       {'superpixel': order[1], 'categoryId': None}]}))
    mine = server.request(path, user=labeler, params={'limit': 3}).json
    assert [n['superpixel'] for n in mine] == [order[1], order[3], order[4]]
    assert [n['superpixel'] for n in server.request(path, user=admin, params={'limit': 5}).json] == order[:5]

    slide = server.request('/histomics_label/project/%s/slide/%s/predictions' % (
        project['_id'], segmented['itemId']), user=admin).json
    assert slide['predicted'] == arrays['predicted'].tolist() and slide['categoryIds'] == category_ids


@pytest.mark.plugin('histomics_label')
def test_a_new_epoch_replaces_the_old_one(server, admin, project, segmented, category_ids):
    from histomics_label.models.prediction import Prediction, Ranking

    for epoch, seed in ((1, 1), (2, 2), (3, 3)):
        arrays = make_arrays(category_ids, seed)
        assertStatusOk(ingest(server, admin, project, epoch, upload_predictions(admin, project['folderId'], arrays)))
        first = server.request('/histomics_label/project/%s/next' % project['_id'], user=admin,
                               params={'limit': 3}).json
        assert [n['superpixel'] for n in first] == arrays['ranking'][:3].tolist()
    status = server.request('/histomics_label/project/%s/status' % project['_id'], user=admin).json
    assert status['epoch'] == 3 and status['slides'][0]['predictedEpoch'] == 3
    # the previous epoch is kept until the next lands; older ones are gone
    assert sorted({d['epoch'] for d in Prediction().find({})}) == [2, 3]
    assert sorted({d['epoch'] for d in Ranking().find({})}) == [2, 3]
    old = ingest(server, admin, project, 3, upload_predictions(admin, project['folderId'], make_arrays(category_ids)))
    assertStatus(old, 400)


@pytest.mark.plugin('histomics_label')
def test_bad_predictions_are_a_400_and_change_nothing(server, admin, project, segmented, category_ids):
    from histomics_label.models.prediction import Prediction

    good = make_arrays(category_ids)
    cases = {
        'short': dict(good, superpixel=np.arange(SUPERPIXELS - 1)),
        'unknown category': dict(good, category_ids=np.array(['0' * 24] * 3)),
        'column out of range': dict(good, predicted=np.full(SUPERPIXELS, 3)),
        'duplicate ranking': dict(good, ranking=np.zeros(SUPERPIXELS, dtype=int)),
        'unknown slide': dict(good, slide_index=np.full(SUPERPIXELS, 7)),
        'no ranking': {k: v for k, v in good.items() if k != 'ranking'},
    }
    for name, arrays in cases.items():
        resp = ingest(server, admin, project, 1, upload_predictions(admin, project['folderId'], arrays, name))
        assertStatus(resp, 400)
    text = upload_predictions(admin, project['folderId'], {}, 'empty.npz')
    assertStatus(ingest(server, admin, project, 1, text), 400)
    assert Prediction().find({}).count() == 0
    status = server.request('/histomics_label/project/%s/status' % project['_id'], user=admin).json
    assert status['epoch'] == 0
    assert server.request('/histomics_label/project/%s/next' % project['_id'], user=admin).json == []
    assertStatus(server.request('/histomics_label/project/%s/next' % project['_id'], user=admin,
                                params={'limit': 0}), 400)


@pytest.mark.plugin('histomics_label')
def test_prediction_access(server, admin, labeler, project, segmented, category_ids):
    from girder.models.folder import Folder

    file = upload_predictions(admin, project['folderId'], make_arrays(category_ids))
    assertStatus(ingest(server, labeler, project, 1, file), 403)
    assertStatus(ingest(server, None, project, 1, file), 401)
    Folder().setPublic(Folder().load(project['folderId'], force=True), False, save=True)
    assertStatus(server.request('/histomics_label/project/%s/next' % project['_id'], user=labeler), 403)
