"""Roles per project, enforced on the server: in a project with roles, each route that labels, reviews, runs the
pipeline, exports or manages the study answers 403 (writing nothing) to every role that may not, and lets the
roles that may through; a project without roles keeps the folder-ACL behaviour."""
import json

import pytest
from pytest_girder.assertions import assertStatus

from study_fixtures import call, ok, set_roles, team  # noqa: F401 (fixture)
from test_rest_access import snapshot

LABEL = {'trainee', 'expert'}
REVIEW = {'reviewer', 'expert'}
LEAD = {'lead'}
MONITOR = {'lead', 'reviewer'}
# method, path under project/{p} (or category/{c}), who may call it
ROUTES = [
    ('PUT', '/label', LABEL), ('POST', '/label/undo', LABEL), ('PUT', '/review', REVIEW),
    ('POST', '/slides', LEAD), ('POST', '/category', LEAD), ('PUT', 'category/{c}', LEAD),
    ('POST', '/segment', LEAD), ('POST', '/featurize', LEAD), ('POST', '/train', LEAD), ('POST', '/epoch', LEAD),
    ('GET', '/epoch/1', LEAD), ('GET', '/slide/{i}/task/segmentation', LEAD),
    ('POST', '/slide/{i}/superpixels', LEAD), ('POST', '/slide/{i}/features', LEAD),
    ('POST', '/epoch/1/predictions', LEAD), ('POST', '/annotations', LEAD), ('POST', '/export', LEAD),
    ('POST', '/slide/{i}/import', LEAD), ('PUT', '/study', LEAD), ('POST', '/assignment', LEAD),
    ('DELETE', '/assignment/' + '0' * 24, LEAD), ('GET', '/dashboard', MONITOR),
]
ROLES = ('lead', 'expert', 'trainee', 'reviewer', 'outsider')


def models_snapshot():
    from histomics_label.models.assignment import Assignment
    from histomics_label.models.study import Study

    return snapshot() + [list(model().find({})) for model in (Study, Assignment)]


@pytest.mark.plugin('histomics_label')
def test_each_role_may_do_only_its_part(server, admin, project, segmented, team):
    from histomics_label.models.category import Category

    category = Category().create(project, 'Tumor')
    item = str(segmented['itemId'])
    set_roles(server, admin, project, team)
    bodies = {'/label': {'itemId': item, 'labels': [{'superpixel': 0, 'categoryId': str(category['_id'])}]},
              '/review': {'itemId': item, 'reviews': [{'superpixel': 0, 'verdict': 'flag'}]},
              '/study': {'routing': True},
              '/assignment': {'userIds': [str(team['trainee']['_id'])], 'overlap': 1, 'quota': 5}}
    allowed = []
    for method, template, who in ROUTES:
        path = template.format(i=item, c=category['_id'])
        for role in ROLES:
            before = models_snapshot() if role not in who else None
            body = bodies.get(path) if method in ('PUT', 'POST') else None
            if path.startswith('category/'):
                resp = server.request('/histomics_label/' + path, method=method, user=team[role],
                                      params={'name': 'Renamed'})
            else:
                # parameters that stop the allowed callers' jobs with a 400 once past the role check
                resp = call(server, team[role], project, path, method, body, name='X', outputs='{}',
                            fileId='0' * 24, itemIds='[5]', formats='[5]')
            if role in who:
                allowed.append((method, path, role, resp.output_status))
            else:
                assertStatus(resp, 403)
                assert ' may ' in resp.json['message'], resp.json
                assert models_snapshot() == before, (method, path, role)
    # the roles that may are let through (the call may still be a 400 for its parameters, never a 403)
    assert not [entry for entry in allowed if entry[3].startswith(b'403')], allowed


@pytest.mark.plugin('histomics_label')
def test_the_403_says_who_may(server, admin, project, segmented, team):
    from histomics_label.models.category import Category

    category = str(Category().create(project, 'Tumor')['_id'])
    set_roles(server, admin, project, team)
    body = {'itemId': str(segmented['itemId']), 'labels': [{'superpixel': 0, 'categoryId': category}]}
    resp = call(server, team['outsider'], project, '/label', 'PUT', body)
    assertStatus(resp, 403)
    assert resp.json['message'] == ('In project Study only expert, trainee may label; your roles: none. A lead or '
                                    'a folder admin assigns roles.')
    resp = call(server, team['lead'], project, '/label', 'PUT', body)
    assertStatus(resp, 403)
    assert 'your roles: lead' in resp.json['message']
    # folder admins manage without a role, but label only with one
    assertStatus(call(server, admin, project, '/label', 'PUT', body), 403)
    ok(call(server, admin, project, '/study', 'PUT', {'roles': {str(admin['_id']): ['expert']}}))
    assert ok(call(server, admin, project, '/label', 'PUT', body))['written'] == 1


@pytest.mark.plugin('histomics_label')
def test_a_project_without_roles_keeps_the_folder_acl(server, admin, project, segmented, team):
    from histomics_label.models.category import Category

    category = str(Category().create(project, 'Tumor')['_id'])
    body = {'itemId': str(segmented['itemId']), 'labels': [{'superpixel': 0, 'categoryId': category}]}
    for name in ('outsider', 'trainee'):  # folder write: label and review, as before
        assert ok(call(server, team[name], project, '/label', 'PUT', body))['written'] == 1
    ok(call(server, team['outsider'], project, '/review', 'PUT', {'itemId': body['itemId'], 'reviews': [
        {'superpixel': 0, 'verdict': 'agree', 'categoryId': category}]}))
    assertStatus(call(server, team['reader'], project, '/label', 'PUT', body), 403)
    # managing a study needs folder admin; monitoring needs read
    resp = call(server, team['outsider'], project, '/study', 'PUT', {'blinded': True})
    assertStatus(resp, 403)
    assert resp.json['message'] == 'Admin access on the project folder is needed to manage the study.'
    assert ok(call(server, team['reader'], project, '/dashboard'))['totals']['labels'] == 2
    study = ok(call(server, team['outsider'], project, '/study'))
    assert study['members'] == [] and study['me'] == {
        'roles': [], 'blinded': False, 'capabilities': ['export', 'label', 'monitor', 'review', 'run']}


@pytest.mark.plugin('histomics_label')
def test_roles_are_validated_and_listed(server, admin, project, team):
    from histomics_label.models.study import Study

    for roles, message in (
            ({str(team['reader']['_id']): ['trainee']}, 'has no write access on the project folder'),
            ({'0' * 24: ['trainee']}, 'Unknown user'),
            ({str(team['lead']['_id']): ['boss']}, "'boss' is not one of"),
            ({str(team['lead']['_id']): ['lead', 'lead']}, 'has non-unique elements'),
            ({'me': ['lead']}, "'me' does not match")):
        resp = call(server, admin, project, '/study', 'PUT', {'roles': roles})
        assertStatus(resp, 400)
        assert message in resp.json['message'], resp.json
    for body, message in (({'confidentAt': 0.2}, 'less than the minimum of 0.5'),
                          ({'blinded': 'yes'}, "'yes' is not of type 'boolean'"), ({'colour': 1}, 'colour')):
        resp = call(server, admin, project, '/study', 'PUT', body)
        assertStatus(resp, 400)
        assert message in resp.json['message'], resp.json
    assert Study().find({}).count() == 0
    study = set_roles(server, admin, project, team, confidentAt=0.8)
    assert study['confidentAt'] == 0.8 and study['blinded'] is False
    assert {m['login']: m['roles'] for m in study['members']} == {
        'lead': ['lead'], 'expert': ['expert'], 'trainee': ['trainee'], 'trainee2': ['trainee'],
        'reviewer': ['reviewer']}
    # a lead manages: gives a second role, removes one
    study = ok(call(server, team['lead'], project, '/study', 'PUT', {'roles': {
        str(team['expert']['_id']): ['reviewer', 'expert'], str(team['trainee2']['_id']): []}}))
    assert {m['login']: m['roles'] for m in study['members']}['expert'] == ['expert', 'reviewer']
    assert 'trainee2' not in {m['login'] for m in study['members']}
    me = ok(call(server, team['expert'], project, '/study'))['me']
    assert me == {'roles': ['expert', 'reviewer'], 'blinded': False,
                  'capabilities': ['label', 'monitor', 'review']}
    assert json.loads(json.dumps(study))['projectId'] == str(project['_id'])
