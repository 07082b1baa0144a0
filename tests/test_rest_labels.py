"""REST: label writes (bulk upsert, validation that writes nothing), queries, history, concurrency."""
import json
import random
import threading

import pytest
import requests
from pytest_girder.assertions import assertStatus, assertStatusOk

from conftest import SUPERPIXELS


@pytest.fixture
def categories(project):
    """Three categories, as JSON (ids as strings) like the category endpoint returns them."""
    from histomics_label.models.category import Category

    created = [Category().create(project, name) for name in ('Tumor', 'Stroma', 'Fat')]
    return [dict(c, _id=str(c['_id'])) for c in created]


def put_labels(server, user, project, body):
    return server.request('/histomics_label/project/%s/label' % project['_id'], method='PUT', user=user,
                          type='application/json', body=json.dumps(body))


def counts():
    from histomics_label.models.label import Label, LabelHistory

    return Label().find({}).count(), LabelHistory().find({}).count()


@pytest.mark.plugin('histomics_label')
def test_a_paint_stroke_is_one_bulk_upsert(server, admin, project, segmented, categories):
    tumor, stroma, _ = categories
    stroke = [{'superpixel': i, 'categoryId': tumor['_id']} for i in range(50)]
    resp = put_labels(server, admin, project, {'itemId': str(segmented['itemId']), 'labels': stroke})
    assertStatusOk(resp)
    assert dict(resp.json, writeId=None) == {'written': 50, 'removed': 0, 'writeId': None, 'retrainJobId': None}
    # relabel some, clear some: still one document per superpixel and user
    change = [{'superpixel': i, 'categoryId': stroma['_id']} for i in range(10)] + [
        {'superpixel': i, 'categoryId': None} for i in range(40, 50)]
    resp = put_labels(server, admin, project, {'itemId': str(segmented['itemId']), 'labels': change,
                                               'source': 'guided', 'epoch': 2})
    assert dict(resp.json, writeId=None) == {'written': 10, 'removed': 10, 'writeId': None, 'retrainJobId': None}
    assert counts() == (40, 70)
    labels = server.request('/histomics_label/project/%s/label' % project['_id'], user=admin,
                            params={'limit': 0, 'sort': 'superpixel', 'sortdir': 1}).json
    assert [(l['superpixel'], l['categoryId'], l['source']) for l in labels[:11]] == [
        (i, stroma['_id'], 'guided') for i in range(10)] + [(10, tumor['_id'], 'paint')]
    history = server.request('/histomics_label/project/%s/label/history' % project['_id'], user=admin,
                             params={'itemId': str(segmented['itemId']), 'superpixel': 0}).json
    assert [(h['categoryId'], h['source'], h['epoch']) for h in history] == [
        (stroma['_id'], 'guided', 2), (tumor['_id'], 'paint', None)]


@pytest.mark.plugin('histomics_label')
def test_bad_labels_are_a_400_and_write_nothing(server, admin, project, segmented, categories, slide_item):
    from girder.models.folder import Folder
    from girder.models.item import Item

    tumor = categories[0]
    good = {'superpixel': 1, 'categoryId': tumor['_id']}
    other = Item().createItem('outside.svs', admin, Folder().load(slide_item['folderId'], force=True))
    cases = [
        ({'itemId': str(segmented['itemId']), 'labels': [good, {'superpixel': SUPERPIXELS,
                                                                 'categoryId': tumor['_id']}]}, 'does not exist'),
        ({'itemId': str(segmented['itemId']), 'labels': [good, {'superpixel': -1, 'categoryId': tumor['_id']}]},
         'body.labels[1].superpixel: -1 is less than the minimum of 0'),
        ({'itemId': str(segmented['itemId']), 'labels': [good, {'superpixel': 2, 'categoryId': '0' * 24}]},
         'Unknown or merged category'),
        ({'itemId': str(other['_id']), 'labels': [good]}, 'is not a slide of project'),
        ({'itemId': str(segmented['itemId']), 'labels': []}, 'body.labels: [] should be non-empty'),
        ({'itemId': str(segmented['itemId']), 'labels': [good], 'source': 'magic'}, "body.source: 'magic' is not one of"),
        ({'itemId': str(segmented['itemId']), 'labels': [{'superpixel': '1', 'categoryId': tumor['_id']}]},
         "body.labels[0].superpixel: '1' is not of type 'integer'"),
    ]
    for body, message in cases:
        resp = put_labels(server, admin, project, body)
        assertStatus(resp, 400)
        assert message in resp.json['message'], body
    assert counts() == (0, 0)


@pytest.mark.plugin('histomics_label')
def test_unsegmented_slides_take_no_labels(server, admin, project, categories, slide_item):
    resp = put_labels(server, admin, project, {'itemId': str(slide_item['_id']), 'labels': [
        {'superpixel': 0, 'categoryId': categories[0]['_id']}]})
    assertStatus(resp, 400)
    assert 'no superpixels yet' in resp.json['message']


@pytest.mark.plugin('histomics_label')
def test_label_access(server, admin, labeler, project, segmented, categories):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    body = {'itemId': str(segmented['itemId']), 'labels': [{'superpixel': 0, 'categoryId': categories[0]['_id']}]}
    assertStatus(put_labels(server, None, project, body), 401)
    assertStatus(put_labels(server, labeler, project, body), 403)
    assert counts() == (0, 0)
    Folder().setUserAccess(Folder().load(segmented['projectId'] and project['folderId'], force=True), labeler,
                           AccessType.WRITE, save=True)
    assertStatusOk(put_labels(server, labeler, project, body))


@pytest.mark.plugin('histomics_label')
def test_query_by_user_category_and_region_with_paging(server, admin, labeler, project, segmented,
                                                       categories):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    tumor, stroma, _ = categories
    item = str(segmented['itemId'])
    put_labels(server, admin, project, {'itemId': item, 'labels': [
        {'superpixel': i, 'categoryId': tumor['_id'] if i % 2 else stroma['_id']} for i in range(20)]})
    put_labels(server, labeler, project, {'itemId': item, 'labels': [
        {'superpixel': i, 'categoryId': tumor['_id']} for i in range(5)]})
    path = '/histomics_label/project/%s/label' % project['_id']

    def query(**params):
        resp = server.request(path, user=admin, params=dict(params, sort='superpixel', sortdir=1))
        assertStatusOk(resp)
        return [(l['superpixel'], l['userId'] == str(labeler['_id'])) for l in resp.json]

    assert query(userId=str(labeler['_id'])) == [(i, True) for i in range(5)]
    assert [s for s, _ in query(userId=str(admin['_id']), categoryIds=json.dumps([tumor['_id']]))] == list(
        range(1, 20, 2))
    # superpixels 0-9 are the first grid row (centroid y = 125); 0 and 1 have centroid x 100 and 300
    assert query(userId=str(admin['_id']), region='0,0,350,200') == [(0, False), (1, False)]
    assert [s for s, _ in query(userId=str(admin['_id']), limit=5, offset=5)] == [5, 6, 7, 8, 9]
    assertStatus(server.request(path, user=admin, params={'region': '1,2,3'}), 400)
    assertStatus(server.request(path, user=admin, params={'sort': 'x'}), 400)
    assertStatus(server.request(path, user=admin, params={'userId': 'nobody'}), 400)


@pytest.fixture
def thousand_superpixels(project, slide_item):
    import numpy as np

    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    slide = ProjectSlide().findOne({'itemId': slide_item['_id']})
    centroids = np.array([(i % 40 * 50 + 25, i // 40 * 100 + 50) for i in range(1000)], dtype=float)
    return SuperpixelGeometry().store(slide, centroids, np.hstack([centroids - 25, centroids + 25]))


@pytest.mark.plugin('histomics_label')
def test_20_concurrent_writers_of_1000_overlapping_labels_lose_none(
        boundServer, admin, project, thousand_superpixels, categories):
    """20 labelers paint the same 1,000 superpixels at once over HTTP, 100 per request, in random orders."""
    from girder.constants import AccessType
    from girder.models.folder import Folder
    from girder.models.token import Token
    from girder.models.user import User

    from histomics_label.models.label import Label

    folder = Folder().load(project['folderId'], force=True)
    writers = []
    for n in range(20):
        user = User().createUser('writer%d' % n, 'password', 'W', str(n), 'w%d@example.com' % n)
        Folder().setUserAccess(folder, user, AccessType.WRITE, save=False)
        writers.append((user, str(Token().createToken(user)['_id'])))
    Folder().save(folder)
    url = 'http://127.0.0.1:%d/api/v1/histomics_label/project/%s/label' % (boundServer.boundPort, project['_id'])
    expected, failures = {}, []

    def write(index, user, token):
        rng = random.Random(index)
        order = list(range(1000))
        rng.shuffle(order)
        with requests.Session() as session:
            for start in range(0, 1000, 100):
                batch = [{'superpixel': s, 'categoryId': categories[(s + index) % 3]['_id']}
                         for s in order[start:start + 100]]
                resp = session.put(url, headers={'Girder-Token': token}, json={
                    'itemId': str(thousand_superpixels['itemId']), 'labels': batch})
                if resp.status_code != 200:
                    failures.append(resp.text)
        expected[user['_id']] = {s: categories[(s + index) % 3]['_id'] for s in range(1000)}

    threads = [threading.Thread(target=write, args=(i, u, t)) for i, (u, t) in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert failures == []
    stored = list(Label().find({'projectId': thousand_superpixels['projectId']}))
    assert len(stored) == 20 * 1000
    for label in stored:
        assert str(label['categoryId']) == expected[label['userId']][label['superpixel']]
