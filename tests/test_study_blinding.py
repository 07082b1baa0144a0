"""Blinding: in a blinded study a rater's responses contain no other user's labels or reviews and no model
predictions, on every GET route of the API; the reviewer and the lead still see everything."""
import re

import pytest
from pytest_girder.assertions import assertStatus
from pytest_girder.utils import getResponseBody

from study_fixtures import call, ingest_predictions, label, ok, set_roles, team  # noqa: F401

#: prediction fields with a value
PREDICTED = re.compile(r'"(probabilities|confidence|certainty|predicted)": [\[{0-9"]')
#: GET routes that hold no label, review or prediction: the category scheme names every category by design
SCHEME = {('project', ':id', 'category')}
#: GET routes a blinded rater is refused outright
REFUSED = {('project', ':id', 'label', 'effective'), ('project', ':id', 'review', 'queue'),
           ('project', ':id', 'slide', ':itemId', 'predictions'), ('project', ':id', 'dashboard'),
           ('project', ':id', 'agreement'), ('project', ':id', 'export'), ('project', ':id', 'quality'),
           ('project', ':id', 'slide', ':itemId', 'import'), ('project', ':id', 'epoch', ':epoch'),
           ('project', ':id', 'slide', ':itemId', 'task', ':stage')}


def get_routes():
    """Every GET route of the plugin's resource."""
    import cherrypy

    resource = cherrypy.tree.apps[''].root.api.v1.histomics_label
    return [route for routes in resource._routes['get'].values() for route, _ in routes]


@pytest.fixture
def blinded_study(server, admin, project, segmented, team):
    """A blinded study: the expert labels superpixels 0-9 with the Marker category and a reviewer corrects
    one to Marker; the trainee labels 10-14 Tumor; an epoch predicts both; the trainee has an assignment."""
    from histomics_label.models.category import Category

    tumor, marker = (str(Category().create(project, name)['_id']) for name in ('Tumor', 'Marker'))
    set_roles(server, admin, project, team, blinded=True)
    item = segmented['itemId']
    label(server, team['expert'], project, item, [(sp, marker) for sp in range(10)])
    label(server, team['trainee'], project, item, [(sp, tumor) for sp in range(10, 15)])
    ok(call(server, team['reviewer'], project, '/review', 'PUT', {'itemId': str(item), 'reviews': [
        {'superpixel': 0, 'verdict': 'correct', 'categoryId': marker}, {'superpixel': 1, 'verdict': 'flag'}]}))
    ingest_predictions(server, admin, project, [marker, tumor])
    ok(call(server, team['lead'], project, '/assignment', 'POST', {
        'userIds': [str(team['trainee']['_id']), str(team['expert']['_id'])], 'overlap': 2, 'quota': 20,
        'seed': 1}))
    return {'tumor': tumor, 'marker': marker, 'item': str(item)}


@pytest.mark.plugin('histomics_label')
def test_a_blinded_rater_sees_no_other_labels_or_predictions(server, admin, project, team, blinded_study):
    marker, item = blinded_study['marker'], blinded_study['item']
    values = {':id': str(project['_id']), ':itemId': item, ':superpixel': '0', ':epoch': '1',
              ':stage': 'segmentation'}
    checked = []
    for route in get_routes():
        if route[:2] != ('project', ':id') or tuple(route) in SCHEME:
            continue
        path = '/histomics_label/' + '/'.join(values.get(part, part) for part in route)
        resp = server.request(path, user=team['trainee'], params={'itemId': item, 'limit': 0}, isJson=False)
        status = int(resp.output_status.split()[0])
        body = getResponseBody(resp, text=False).decode('utf8', 'replace')
        if tuple(route) in REFUSED:
            assert status == 403, (path, status, body)
        else:
            assert status in (200, 400), (path, status, body)  # 400: the superpixel picture needs a label image
        assert marker not in body, (path, body)
        assert not PREDICTED.search(body), (path, body)
        checked.append(tuple(route))
    assert len(checked) >= 18
    # the blinded rater still sees their own work: labels, history, counts, queue, next (without predictions)
    mine = ok(call(server, team['trainee'], project, '/label', limit=0))
    assert sorted(row['superpixel'] for row in mine) == list(range(10, 15))
    assert len(ok(call(server, team['trainee'], project, '/label/history'))) == 5
    counts = ok(call(server, team['trainee'], project, '/label/counts'))
    assert counts == {'categories': {blinded_study['tumor']: {'mine': 5, 'everyone': None}},
                      'total': {'mine': 5, 'everyone': None}}
    nexts = ok(call(server, team['trainee'], project, '/next', limit=5))
    assert len(nexts) == 5 and all(n['categoryId'] is None and n['probabilities'] is None and
                                   n['certainty'] is None for n in nexts)
    queue = ok(call(server, team['trainee'], project, '/queue', limit=3))
    assert queue['assigned'] == 20 and len(queue['rows']) == 3
    assert all(row['probabilities'] is None for row in queue['rows'])
    assert ok(call(server, team['trainee'], project, '/status'))['totals']['labeled'] is None
    # asking for another rater's labels is refused, not silently emptied
    resp = call(server, team['trainee'], project, '/label', userId=str(team['expert']['_id']))
    assertStatus(resp, 403)
    assert 'only see your own labels' in resp.json['message']
    # blinded raters label but give no verdicts
    resp = call(server, team['expert'], project, '/review', 'PUT', {'itemId': item, 'reviews': [
        {'superpixel': 3, 'verdict': 'flag'}]})
    assertStatus(resp, 403)
    assert resp.json['message'] == 'Project Study is blinded: raters may not give review verdicts.'


@pytest.mark.plugin('histomics_label')
def test_the_overseers_and_an_unblinded_study_see_everything(server, admin, project, team, blinded_study):
    marker = blinded_study['marker']
    for user in (team['reviewer'], team['lead'], admin):
        assert marker in str(ok(call(server, user, project, '/label', limit=0)))
        assert marker in str(ok(call(server, user, project, '/review/queue')))
        assert ok(call(server, user, project, '/next', limit=1))[0]['probabilities'] is not None
    ok(call(server, team['lead'], project, '/study', 'PUT', {'blinded': False}))
    assert marker in str(ok(call(server, team['trainee'], project, '/label', limit=0)))
    assert ok(call(server, team['trainee'], project, '/label/counts'))['total'] == {'mine': 5, 'everyone': 15}
    assert ok(call(server, team['trainee'], project, '/next', limit=1))[0]['probabilities'] is not None


@pytest.mark.plugin('histomics_label')
def test_blinded_writes_still_retrain_as_the_creator(server, admin, project, segmented, team):
    """In a study, automatic retraining triggered by a rater runs as someone who may run the pipeline."""
    from histomics_label.models.study import Study

    set_roles(server, admin, project, team, blinded=True)
    assert Study().job_user(project, team['trainee'])['_id'] == admin['_id']
    assert Study().job_user(project, team['lead'])['_id'] == team['lead']['_id']
    assert Study().job_user(project, admin)['_id'] == admin['_id']
