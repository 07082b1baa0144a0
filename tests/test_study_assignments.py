"""Assignments: slides x raters with an overlap level, one shared sample of superpixels per slide (so that the
raters of a slide label the same superpixels), balanced loads, each rater's queue and progress."""
import collections

import pytest
from bson import ObjectId
from pytest_girder.assertions import assertStatus

from study_fixtures import add_slides, call, ingest_predictions, label, ok, set_roles, team  # noqa: F401

RATERS = ('expert', 'trainee', 'trainee2')


@pytest.fixture
def study(server, admin, project, segmented, team):
    from histomics_label.models.category import Category

    slides = [segmented] + add_slides(project, 5)
    set_roles(server, admin, project, team)
    tumor = str(Category().create(project, 'Tumor')['_id'])
    return {'slides': slides, 'tumor': tumor, 'raters': [str(team[name]['_id']) for name in RATERS]}


@pytest.mark.plugin('histomics_label')
def test_overlap_shared_samples_and_balance(server, admin, project, team, study):
    from histomics_label.models.assignment import AssignmentSample

    body = {'name': 'Round 1', 'userIds': study['raters'], 'overlap': 2, 'quota': 15, 'seed': 7}
    assignment = ok(call(server, team['lead'], project, '/assignment', 'POST', body))
    assert (assignment['name'], assignment['overlap'], assignment['quota'], assignment['sampling'],
            assignment['seed']) == ('Round 1', 2, 15, 'random', 7)
    assert len(assignment['slides']) == 6
    loads = collections.Counter(user for entry in assignment['slides'] for user in entry['userIds'])
    assert all(len(set(entry['userIds'])) == 2 for entry in assignment['slides'])
    assert sorted(loads.values()) == [4, 4, 4]  # 6 slides x 2 raters over 3 raters
    assert len({tuple(sorted(entry['userIds'])) for entry in assignment['slides']}) == 3  # every pair occurs
    samples = AssignmentSample().samples(ObjectId(assignment['_id']))
    for entry in assignment['slides']:
        sample = samples[ObjectId(entry['itemId'])]
        assert entry['count'] == 15 and len(set(sample.tolist())) == 15 and sample.max() < 100
    # each rater's queue lists exactly the shared samples of their slides, in slide and sample order
    by_user = collections.defaultdict(list)
    for entry in assignment['slides']:
        for user in entry['userIds']:
            by_user[user] += [(entry['itemId'], int(sp)) for sp in samples[ObjectId(entry['itemId'])]]
    for name in RATERS:
        queue = ok(call(server, team[name], project, '/queue', limit=1000))
        assert [(row['itemId'], row['superpixel']) for row in queue['rows']] == by_user[str(team[name]['_id'])]
        assert (queue['assigned'], queue['done'], queue['remaining']) == (60, 0, 60)
        assert queue['assignments'] == [{'assignmentId': assignment['_id'], 'name': 'Round 1', 'assigned': 60,
                                         'done': 0, 'remaining': 60}]
    # the same seed gives the same assignment; another seed another one
    again = ok(call(server, team['lead'], project, '/assignment', 'POST', body))
    assert [e['userIds'] for e in again['slides']] == [e['userIds'] for e in assignment['slides']]
    assert AssignmentSample().samples(ObjectId(again['_id']))[
        study['slides'][0]['itemId']].tolist() == samples[study['slides'][0]['itemId']].tolist()


@pytest.mark.plugin('histomics_label')
def test_my_queue_and_progress_follow_my_labels(server, admin, project, team, study):
    body = {'itemIds': [str(study['slides'][0]['itemId'])], 'userIds': study['raters'][:2], 'overlap': 2,
            'quota': 10, 'seed': 3}
    ok(call(server, team['lead'], project, '/assignment', 'POST', body))
    first = ok(call(server, team['expert'], project, '/queue', limit=4))
    assert first['remaining'] == 10 and len(first['rows']) == 4
    item = study['slides'][0]['itemId']
    mine = [row['superpixel'] for row in first['rows']]
    label(server, team['expert'], project, item, [(sp, study['tumor']) for sp in mine[:3]])
    label(server, team['expert'], project, item, [(99 if 99 not in mine else 98, study['tumor'])])  # unassigned
    after = ok(call(server, team['expert'], project, '/queue', limit=4))
    assert (after['assigned'], after['done'], after['remaining']) == (10, 3, 7)
    assert after['rows'][0]['superpixel'] == mine[3]
    # the other rater of the slide has the same sample, and their own progress
    other = ok(call(server, team['trainee'], project, '/queue', limit=10))
    assert other['done'] == 0 and mine[:4] == [row['superpixel'] for row in other['rows']][:4]
    # clearing a label puts it back; unassigned users have an empty queue
    label(server, team['expert'], project, item, [(mine[0], None)])
    assert ok(call(server, team['expert'], project, '/queue', limit=1))['rows'][0]['superpixel'] == mine[0]
    empty = ok(call(server, team['trainee2'], project, '/queue'))
    assert empty == {'assigned': 0, 'done': 0, 'remaining': 0, 'assignments': [], 'rows': []}
    # before any training the rows carry no prediction
    assert ok(call(server, team['expert'], project, '/queue', limit=1))['rows'][0]['categoryId'] is None


@pytest.mark.plugin('histomics_label')
def test_sampling_by_uncertainty_takes_the_top_of_the_ranking(server, admin, project, team, study):
    from histomics_label.models.category import Category

    stroma = str(Category().create(project, 'Stroma')['_id'])
    body = {'itemIds': [str(study['slides'][0]['itemId'])], 'userIds': study['raters'], 'overlap': 3,
            'quota': 8, 'sampling': 'uncertain'}
    resp = call(server, team['lead'], project, '/assignment', 'POST', body)
    assertStatus(resp, 400)
    assert 'has no predictions to sample by uncertainty' in resp.json['message']
    arrays = ingest_predictions(server, admin, project, [study['tumor'], stroma])
    assignment = ok(call(server, team['lead'], project, '/assignment', 'POST', body))
    queue = ok(call(server, team['trainee'], project, '/queue', limit=8))
    assert [row['superpixel'] for row in queue['rows']] == arrays['ranking'][:8].tolist()
    assert queue['rows'][0]['certainty'] == pytest.approx(float(arrays['certainty'][arrays['ranking'][0]]), abs=1e-4)
    assert assignment['seed'] is not None and assignment['sampling'] == 'uncertain'


@pytest.mark.plugin('histomics_label')
def test_bad_assignments_are_a_400_and_write_nothing(server, admin, project, team, study, slide_item):
    from histomics_label.models.assignment import Assignment, AssignmentSample
    from histomics_label.models.slide import ProjectSlide

    unsegmented = ProjectSlide().save({
        'projectId': project['_id'], 'itemId': slide_item['folderId'], 'name': 'pending', 'index': 99,
        'superpixelCount': None, 'segmentation': {'status': 'pending'}, 'features': {'status': 'pending'}})
    good = {'userIds': study['raters'], 'overlap': 2, 'quota': 5}
    for changes, message in (
            ({'overlap': 4}, 'overlap (raters per slide) must be 1 to the number of distinct raters (3)'),
            ({'overlap': 0}, 'body.overlap: 0 is less than the minimum of 1'),
            ({'quota': 0}, 'body.quota: 0 is less than the minimum of 1'),
            ({'userIds': [study['raters'][0]] * 2}, 'has non-unique elements'),
            ({'userIds': [str(team['reviewer']['_id'])]}, 'User reviewer cannot label in project Study (roles: '
                                                          'reviewer); give them a trainee or expert role first.'),
            ({'userIds': ['0' * 24]}, 'Unknown user'),
            ({'itemIds': ['0' * 24]}, 'is not a slide of project'),
            ({'itemIds': [str(unsegmented['itemId'])]}, 'Slides without superpixels cannot be assigned: pending.'),
            ({'sampling': 'best'}, "body.sampling: 'best' is not one of"),
            ({'extra': 1}, "('extra' was unexpected)")):
        resp = call(server, team['lead'], project, '/assignment', 'POST', dict(good, **changes))
        assertStatus(resp, 400)
        assert message in resp.json['message'], resp.json
    assert Assignment().find({}).count() == 0 and AssignmentSample().find({}).count() == 0
    # default slides: the segmented ones; deleting an assignment empties the queues and keeps the labels
    assignment = ok(call(server, team['lead'], project, '/assignment', 'POST', good))
    assert len(assignment['slides']) == 6
    label(server, team['expert'], project, study['slides'][0]['itemId'], [(0, study['tumor'])])
    assert [a['_id'] for a in ok(call(server, team['trainee'], project, '/assignment'))] == [assignment['_id']]
    resp = call(server, team['lead'], project, '/assignment/' + '0' * 24, 'DELETE')
    assertStatus(resp, 400)
    ok(call(server, team['lead'], project, '/assignment/' + assignment['_id'], 'DELETE'))
    assert ok(call(server, team['expert'], project, '/queue'))['assigned'] == 0
    assert ok(call(server, team['expert'], project, '/label'))[0]['superpixel'] == 0
    assert AssignmentSample().find({}).count() == 0


@pytest.mark.plugin('histomics_label')
def test_a_deleted_project_takes_its_study_along(server, admin, project, team, study):
    from histomics_label.models.assignment import Assignment, AssignmentSample
    from histomics_label.models.label_stats import LabelStats
    from histomics_label.models.project import Project
    from histomics_label.models.study import Study

    ok(call(server, team['lead'], project, '/assignment', 'POST', {'userIds': study['raters'], 'overlap': 1,
                                                                    'quota': 3}))
    assert LabelStats().find({}).count() == 1
    Project().remove(Project().load(project['_id'], force=True))
    for model in (Study, Assignment, AssignmentSample, LabelStats):
        assert model().find({}).count() == 0, model


@pytest.mark.plugin('histomics_label')
def test_malformed_study_requests_are_a_400_and_write_nothing(server, admin, project, team, study):
    from test_study_roles import models_snapshot

    before = models_snapshot()
    for method, path, params, body, message in (
            ('GET', '/queue', {'limit': -1}, None, 'limit must be at least 0, got -1'),
            ('GET', '/queue', {'limit': 'all'}, None, 'integer parameter limit'),
            ('GET', '/queue', {'offset': -2}, None, 'offset must be at least 0, got -2'),
            ('GET', '/queue', {'limit': 5000}, None, 'limit must be at most 1000'),
            ('POST', '/assignment', {}, [1], "body: [1] is not of type 'object'"),
            ('POST', '/assignment', {}, {'userIds': study['raters']}, "'overlap' is a required property"),
            ('POST', '/assignment', {}, {'userIds': 'x', 'overlap': 1, 'quota': 1}, "body.userIds: 'x' is not"),
            ('POST', '/assignment', {}, {'userIds': study['raters'], 'overlap': 1, 'quota': 10 ** 6}, 'body.quota'),
            ('POST', '/assignment', {}, {'userIds': study['raters'], 'overlap': 1.5, 'quota': 3}, 'body.overlap'),
            ('POST', '/assignment', {}, {'userIds': study['raters'], 'overlap': 1, 'quota': 3, 'seed': -1},
             'body.seed'),
            ('PUT', '/study', {}, {'roles': []}, "body.roles: [] is not of type 'object'"),
            ('PUT', '/study', {}, {'routing': 1}, "body.routing: 1 is not of type 'boolean'"),
            ('DELETE', '/assignment/abc', {}, None, 'assignmentId must be an id')):
        resp = call(server, team['lead'], project, path, method, body, **params)
        assertStatus(resp, 400)
        assert message in resp.json['message'], (path, body, resp.json)
    assert models_snapshot() == before
