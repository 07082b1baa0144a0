"""REST: reviewer verdicts and the effective-label rule (adjudicated > consensus > single)."""
import json

import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk


@pytest.fixture
def raters(db, project):
    """Three labelers with write access on the project folder."""
    from girder.constants import AccessType
    from girder.models.folder import Folder
    from girder.models.user import User

    folder = Folder().load(project['folderId'], force=True)
    users = [User().createUser('rater%d' % n, 'password', 'R', str(n), 'r%d@example.com' % n) for n in range(3)]
    for user in users:
        Folder().setUserAccess(folder, user, AccessType.WRITE, save=False)
    Folder().save(folder)
    return users


def put(server, user, project, what, body):
    return server.request('/histomics_label/project/%s/%s' % (project['_id'], what), method='PUT', user=user,
                          type='application/json', body=json.dumps(body))


@pytest.mark.plugin('histomics_label')
def test_effective_label_rule(server, admin, project, segmented, raters):
    from histomics_label.models.category import Category

    tumor, stroma = (str(Category().create(project, name)['_id']) for name in ('Tumor', 'Stroma'))
    item = str(segmented['itemId'])
    votes = {  # superpixel -> category chosen by rater 0, 1, 2 (None: not labeled)
        0: (tumor, None, None),        # single
        1: (tumor, tumor, stroma),     # consensus (2 of 3)
        2: (tumor, stroma, None),      # disputed (1 vs 1)
        3: (tumor, stroma, stroma),    # consensus stroma, but the reviewer corrects it to tumor
        4: (stroma, stroma, None),     # consensus, flagged by the reviewer
    }
    for index, rater in enumerate(raters):
        labels = [{'superpixel': sp, 'categoryId': cats[index]} for sp, cats in votes.items() if cats[index]]
        assertStatusOk(put(server, rater, project, 'label', {'itemId': item, 'labels': labels}))
    resp = put(server, admin, project, 'review', {'itemId': item, 'reviews': [
        {'superpixel': 3, 'verdict': 'correct', 'categoryId': tumor, 'comment': 'nests of tumor cells'},
        {'superpixel': 4, 'verdict': 'flag', 'comment': 'out of focus'}]})
    assertStatusOk(resp)
    assert resp.json == {'written': 2}
    effective = server.request('/histomics_label/project/%s/label/effective' % project['_id'], user=admin,
                               params={'itemId': item}).json
    got = {e['superpixel']: (e['categoryId'], e['rule'], e['raters'], e['flagged']) for e in effective}
    assert got == {
        0: (tumor, 'single', 1, False),
        1: (tumor, 'consensus', 3, False),
        2: (None, 'disputed', 2, False),
        3: (tumor, 'adjudicated', 3, False),
        4: (stroma, 'consensus', 2, True),
    }
    assert [e['agreement'] for e in effective][:2] == [1.0, pytest.approx(2 / 3)]
    # a later verdict from the same reviewer replaces the earlier one
    put(server, admin, project, 'review', {'itemId': item, 'reviews': [
        {'superpixel': 3, 'verdict': 'agree', 'categoryId': stroma}]})
    reviews = server.request('/histomics_label/project/%s/review' % project['_id'], user=admin,
                             params={'itemId': item, 'verdict': 'agree'}).json
    assert [(r['superpixel'], r['categoryId']) for r in reviews] == [(3, stroma)]
    effective = server.request('/histomics_label/project/%s/label/effective' % project['_id'], user=admin,
                               params={'itemId': item}).json
    assert {e['superpixel']: e['categoryId'] for e in effective}[3] == stroma


@pytest.mark.plugin('histomics_label')
def test_bad_reviews_are_a_400_and_write_nothing(server, admin, labeler, project, segmented):
    from histomics_label.models.category import Category
    from histomics_label.models.review import Review

    tumor = str(Category().create(project, 'Tumor')['_id'])
    item = str(segmented['itemId'])
    good = {'superpixel': 0, 'verdict': 'agree', 'categoryId': tumor}
    for bad, message in (
            ({'superpixel': 0, 'verdict': 'maybe'}, "body.reviews[1].verdict: 'maybe' is not one of"),
            ({'superpixel': 0, 'verdict': 'correct'}, 'needs a known'),
            ({'superpixel': 1000, 'verdict': 'flag'}, 'does not exist'),
            ({'superpixel': 0, 'verdict': 'agree', 'categoryId': '0' * 24}, 'needs a known')):
        resp = put(server, admin, project, 'review', {'itemId': item, 'reviews': [good, bad]})
        assertStatus(resp, 400)
        assert message in resp.json['message']
    assertStatus(put(server, labeler, project, 'review', {'itemId': item, 'reviews': [good]}), 403)
    assertStatus(put(server, None, project, 'review', {'itemId': item, 'reviews': [good]}), 401)
    assert Review().find({}).count() == 0
