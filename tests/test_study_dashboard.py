"""The study dashboard: per user, per slide and per category counts equal the labels in the database after sets,
relabels, removals, undo and merges; labeling actions per hour come from the label history; counters kept by
the writes equal a rebuild from the history; leads and reviewers see it, raters do not."""
import collections
import datetime

import pytest
from pytest_girder.assertions import assertStatus

from study_fixtures import add_slides, call, label, ok, set_roles, team  # noqa: F401


def direct_counts(project, resolve):
    """What the dashboard must show, counted from the label documents themselves."""
    from histomics_label.models.label import Label

    users, slides, categories = collections.Counter(), collections.defaultdict(set), collections.Counter()
    per_slide = collections.Counter()
    for doc in Label().find({'projectId': project['_id']}):
        users[str(doc['userId'])] += 1
        per_slide[str(doc['itemId'])] += 1
        slides[str(doc['itemId'])].add(str(doc['userId']))
        categories[str(resolve[doc['categoryId']])] += 1
    return users, per_slide, {item: len(raters) for item, raters in slides.items()}, categories


@pytest.mark.plugin('histomics_label')
def test_dashboard_values_equal_the_labels(server, admin, project, segmented, team):
    from histomics_label.models.category import Category

    second = add_slides(project, 1)[0]
    tumor, stroma, fat = (str(Category().create(project, name)['_id']) for name in ('Tumor', 'Stroma', 'Fat'))
    set_roles(server, admin, project, team)
    raters = [str(team[name]['_id']) for name in ('expert', 'trainee', 'trainee2')]
    ok(call(server, team['lead'], project, '/assignment', 'POST', {
        'itemIds': [str(segmented['itemId'])], 'userIds': raters, 'overlap': 2, 'quota': 10, 'seed': 5}))
    one, two = segmented['itemId'], second['itemId']
    label(server, team['expert'], project, one, [(sp, tumor) for sp in range(20)])
    label(server, team['expert'], project, one, [(sp, stroma) for sp in range(5)])    # relabels
    label(server, team['expert'], project, one, [(sp, None) for sp in range(15, 20)])  # removals
    label(server, team['trainee'], project, one, [(sp, fat) for sp in range(10, 30)])
    label(server, team['trainee'], project, two, [(sp, tumor) for sp in range(7)])
    label(server, team['trainee2'], project, two, [(sp, stroma) for sp in range(3)])
    ok(call(server, team['trainee2'], project, '/label/undo', 'POST'))                  # undone again
    label(server, team['trainee2'], project, one, [(sp, fat) for sp in range(40, 44)])
    Category().merge(Category().load(fat, force=True), Category().load(stroma, force=True))

    board = ok(call(server, team['lead'], project, '/dashboard', hours=3))
    resolve = {key: value for key, value in Category().resolve(Category().list(project)).items()}
    users, per_slide, raters_per_slide, categories = direct_counts(project, resolve)
    assert {u['userId']: u['labels'] for u in board['users'] if u['labels']} == dict(users)
    assert {s['itemId']: (s['labels'], s['raters']) for s in board['slides'] if s['labels']} == {
        item: (per_slide[item], raters_per_slide[item]) for item in per_slide}
    assert {c['categoryId']: c['labels'] for c in board['categories']} == {
        tumor: categories[tumor], stroma: categories[stroma]}  # fat is merged into stroma
    assert board['totals']['labels'] == sum(users.values()) == 15 + 20 + 7 + 4
    # actions: label sets of paint (not removals, not the undo); one active hour so far
    by_login = {u['login']: u for u in board['users']}
    assert (by_login['expert']['actions'], by_login['expert']['activeHours'], by_login['expert']['labelsPerHour']) == (
        25, 1, 25.0)
    assert by_login['trainee2']['actions'] == 7 and by_login['lead']['labels'] == 0
    assert by_login['lead']['labelsPerHour'] is None and by_login['expert']['roles'] == ['expert']
    assert [bucket['labels'] for bucket in board['timeline']] == [0, 0, 25 + 27 + 7]
    # assignment progress: the expert labeled some of the shared sample
    from histomics_label.models.assignment import Assignment, AssignmentSample

    assignment = Assignment().findOne({})
    sample = set(AssignmentSample().samples(assignment['_id'])[one].tolist())
    expected = {}
    for user, done_set in ((raters[0], set(range(15))), (raters[1], set(range(10, 30))),
                           (raters[2], set(range(40, 44)))):
        if user in map(str, assignment['slides'][0]['userIds']):
            expected[user] = (10, len(sample & done_set))
    assert {u['userId']: (u['assigned'], u['done']) for u in board['users'] if u['assigned']} == expected
    first = next(s for s in board['slides'] if s['itemId'] == str(one))
    assert (first['assigned'], first['done'], first['remaining']) == (
        20, sum(d for _, d in expected.values()), 20 - sum(d for _, d in expected.values()))
    # the counters the writes kept equal a rebuild from the history
    rebuilt = ok(call(server, team['lead'], project, '/dashboard', hours=3, rebuild='true'))
    for key in ('users', 'slides', 'categories', 'totals'):
        assert rebuilt[key] == board[key], key


@pytest.mark.plugin('histomics_label')
def test_labels_per_hour_from_the_history(server, admin, project, segmented):
    """A project labeled before the counters existed gets them rebuilt from its history on first read."""
    from histomics_label.models.category import Category
    from histomics_label.models.label import LabelHistory
    from histomics_label.models.label_stats import LabelStats

    tumor = Category().create(project, 'Tumor')['_id']
    now = datetime.datetime.now(datetime.timezone.utc).replace(minute=30)
    entries = []
    for hours_ago, count, source in ((5, 30, 'paint'), (3, 10, 'guided'), (3, 4, 'import'), (0, 12, 'review')):
        for n in range(count):
            entries.append({'projectId': project['_id'], 'itemId': segmented['itemId'], 'userId': admin['_id'],
                            'superpixel': n, 'categoryId': tumor, 'previous': None, 'source': source,
                            'time': now - datetime.timedelta(hours=hours_ago, minutes=n % 20)})
    LabelHistory().collection.insert_many(entries)
    LabelStats().collection.delete_many({})
    board = ok(call(server, admin, project, '/dashboard', hours=6))
    me = board['users'][0]
    assert (me['actions'], me['activeHours'], me['labelsPerHour']) == (52, 3, round(52 / 3, 1))
    assert [bucket['labels'] for bucket in board['timeline']] == [30, 0, 10, 0, 0, 12]  # 5 hours ago .. now
    assert board['timeline'][-1]['users'] == {str(admin['_id']): 12}
    assert board['timeline'][-1]['hour'].startswith(now.strftime('%Y-%m-%dT%H:00:00'))
    assert LabelStats().find({}).count() == 1


@pytest.mark.plugin('histomics_label')
def test_who_sees_the_dashboard(server, admin, project, segmented, team):
    set_roles(server, admin, project, team)
    for name in ('lead', 'reviewer'):
        ok(call(server, team[name], project, '/dashboard'))
    for name in ('trainee', 'expert', 'outsider'):
        assertStatus(call(server, team[name], project, '/dashboard'), 403)
    assertStatus(call(server, team['reviewer'], project, '/dashboard', rebuild='true'), 403)
    ok(call(server, admin, project, '/study', 'PUT', {'blinded': True}))
    ok(call(server, team['reviewer'], project, '/dashboard'))
    for name, value in (('hours', 0), ('hours', 10000), ('rebuild', 'maybe')):
        assertStatus(call(server, team['lead'], project, '/dashboard', **{name: value}), 400)


@pytest.mark.plugin('histomics_label')
def test_study_responses_have_exactly_the_documented_keys(server, admin, project, segmented, team):
    from test_api_shapes import documented_examples
    from histomics_label.models.category import Category

    docs = documented_examples()
    tumor = str(Category().create(project, 'Tumor')['_id'])
    study = set_roles(server, admin, project, team, blinded=True)
    assignment = ok(call(server, team['lead'], project, '/assignment', 'POST', {
        'userIds': [str(team['expert']['_id']), str(team['trainee']['_id'])], 'overlap': 2, 'quota': 5}))
    label(server, team['expert'], project, segmented['itemId'], [(0, tumor)])
    live = {'Study': study, 'Assignment': assignment,
            'My queue': ok(call(server, team['expert'], project, '/queue')),
            'Dashboard': ok(call(server, team['lead'], project, '/dashboard'))}
    for noun, response in live.items():
        assert set(response) == set(docs[noun]), noun
    nested = (('Study', 'members'), ('Assignment', 'slides'), ('My queue', 'assignments'), ('My queue', 'rows'),
              ('Dashboard', 'users'), ('Dashboard', 'slides'), ('Dashboard', 'categories'),
              ('Dashboard', 'timeline'))
    for noun, key in nested:
        assert set(live[noun][key][0]) == set(docs[noun][key][0]), (noun, key)
    assert set(live['Study']['me']) == set(docs['Study']['me'])
    assert set(live['Dashboard']['totals']) == set(docs['Dashboard']['totals'])
