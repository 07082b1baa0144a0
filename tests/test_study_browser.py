"""Issue 12's browser check: the Study tab (dashboard and live agreement) as a study lead sees it.

Starts the demo stack (``devops/serve.py``), makes a role-managed study on the demo slide through the REST API
(a non-admin lead, an expert and two trainees who share one assigned sample and disagree on some of it), then
tests/browser/study.mjs drives chromium: the lead opens the Study tab, the figures shown must equal the API's
(as rounded on screen), and screenshots go to test-artifacts/study-dashboard.png and study-agreement.png; a
trainee (no monitor capability) gets no Study tab.
"""
import json
import os
import subprocess

import girder_client

from conftest import ARTIFACTS
from test_demo_browser import BROWSER_DIR, demo, wait_for_job  # noqa: F401 (the demo server fixture)

PASSWORD = 'study-password'
#: login -> (first name, last name, role)
PEOPLE = {'lena': ('Lena', 'Lead', 'lead'), 'anna': ('Anna', 'Expert', 'expert'),
          'bruno': ('Bruno', 'Trainee', 'trainee'), 'cara': ('Cara', 'Trainee', 'trainee')}
CATEGORIES = ('Tumor', 'Stroma', 'Lymphocytes')
#: how much of the shared sample each rater labels, and every how many superpixels they pick the next category
RATERS = {'anna': (1.0, None), 'bruno': (0.75, 5), 'cara': (0.5, 3)}
SAMPLE = 40


def make_people(admin, folder):
    """The study team as users with write access on the folder; {login: user}."""
    people = {login: admin.post('user', parameters={
        'login': login, 'password': PASSWORD, 'email': '%s@example.com' % login, 'firstName': first,
        'lastName': last}) for login, (first, last, _) in PEOPLE.items()}
    access = admin.get('folder/%s/access' % folder['_id'])
    access['users'] += [{'id': user['_id'], 'level': 1, 'flags': []} for user in people.values()]
    admin.put('folder/%s/access' % folder['_id'], parameters={'access': json.dumps(access)})
    return people


def seed_study(url, admin, folder):
    """Roles, one assignment of a shared sample to the three raters, and their (partly disagreeing) labels.
    Returns the project."""
    people = make_people(admin, folder)
    project = admin.post('histomics_label/project', parameters={
        'folderId': folder['_id'], 'name': 'Colon study', 'settings': json.dumps({'radius': 50})})
    path = 'histomics_label/project/%s/' % project['_id']
    # superpixels are all the study needs: the features job that follows runs on without being waited for
    for job in admin.post(path + 'segment'):
        assert wait_for_job(admin, job['_id'])['status'] == 3, job
    assert admin.get(path + 'status')['slides'][0]['segmented']
    categories = [admin.post(path + 'category', parameters={'name': name})['_id'] for name in CATEGORIES]
    admin.put(path + 'study', json={'roles': {people[login]['_id']: [role] for login, (_, _, role) in PEOPLE.items()}})
    admin.post(path + 'assignment', json={'name': 'Round 1', 'userIds': [people[login]['_id'] for login in RATERS],
                                          'overlap': len(RATERS), 'quota': SAMPLE, 'seed': 1})
    for login, (share, flip) in RATERS.items():
        rater = girder_client.GirderClient(apiUrl=url + '/api/v1')
        rater.authenticate(login, PASSWORD)
        rows = rater.get(path + 'queue', parameters={'limit': SAMPLE})['rows']
        assert len(rows) == SAMPLE, (login, len(rows))
        labels = [{'superpixel': row['superpixel'],
                   'categoryId': categories[(row['superpixel'] + bool(flip and i % flip == 0)) % len(categories)]}
                  for i, row in enumerate(rows[:int(SAMPLE * share)])]
        rater.put(path + 'label', json={'itemId': rows[0]['itemId'], 'source': 'guided', 'labels': labels})
    return project


def browse(url, login, project, slide, expect):
    """Run study.mjs as ``login``; returns its summary."""
    result = subprocess.run(
        ['node', 'study.mjs', url, login, PASSWORD, project['_id'], slide['_id'], ARTIFACTS, expect],
        cwd=BROWSER_DIR, capture_output=True, text=True, timeout=300)
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_lead_sees_the_study_tab(demo):  # noqa: F811
    admin = girder_client.GirderClient(apiUrl=demo['url'] + '/api/v1')
    admin.authenticate('admin', 'histomics')
    folder = admin.resourceLookup('/collection/Histomics Label Demo/Slides')
    slide = admin.get('item', parameters={'folderId': folder['_id'], 'name': 'CMU-1-Small-Region.svs'})[0]
    project = seed_study(demo['url'], admin, folder)
    path = 'histomics_label/project/%s/' % project['_id']
    agreement = admin.get(path + 'agreement')
    board = admin.get(path + 'dashboard')
    # co-labeled: bruno's three quarters of the sample (anna labeled all of it, cara a part of bruno's)
    assert agreement['items'] == int(SAMPLE * RATERS['bruno'][0]) and len(agreement['pairs']) == 3
    assert 0 < agreement['fleiss']['kappa'] < 1 and 0 < agreement['krippendorff']['alpha'] < 1
    assert board['totals']['labels'] == sum(int(SAMPLE * share) for share, _ in RATERS.values())

    lead = browse(demo['url'], 'lena', project, slide, 'study')
    shown = lead['shown']
    assert shown['fleiss'] == '%.2f' % agreement['fleiss']['kappa']
    assert shown['alpha'] == '%.2f' % agreement['krippendorff']['alpha']
    assert shown['fleissInterval'] == '[%.2f, %.2f]' % (agreement['fleiss']['low'], agreement['fleiss']['high'])
    assert shown['items'] == str(agreement['items'])
    assert shown['labels'] == str(board['totals']['labels'])
    names = {rater['userId']: rater['login'] for rater in agreement['raters']}
    expected_pairs = {'%s-%s' % tuple(sorted(names[u] for u in pair['userIds'])):
                      '%.2f | n=%d' % (pair['kappa'], pair['items']) for pair in agreement['pairs']}
    assert shown['pairs'] == expected_pairs
    assert shown['users'] == sorted(user['name'] for user in board['users'])
    for name in ('study-dashboard.png', 'study-agreement.png'):
        assert os.path.getsize(os.path.join(ARTIFACTS, name)) > 20000, name
    assert lead['refreshStatus'] == 200
    assert lead['errors'] == [], lead['errors']

    trainee = browse(demo['url'], 'cara', project, slide, 'no-study')
    assert 'Label' in trainee['tabs'] and 'Study' not in trainee['tabs'], trainee['tabs']
    assert trainee['errors'] == [], trainee['errors']
    cara = girder_client.GirderClient(apiUrl=demo['url'] + '/api/v1')
    cara.authenticate('cara', PASSWORD)
    try:
        cara.get(path + 'dashboard')
        raise AssertionError('a trainee read the dashboard')
    except girder_client.HttpError as error:
        assert error.status == 403
