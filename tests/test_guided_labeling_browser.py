"""Issue 10 end to end: a non-admin labeler in a real browser on the demo slide.

Starts ``devops/serve.py`` (embedded database, its own Redis and Celery worker), makes a labeler with write
access on the demo folder and, as admin, a project with small superpixels (segmentation + features on the
worker). Then tests/browser/guided_labeling.mjs drives chromium as the labeler through the Guided Labeling view
(superpixels, two new categories, clicks and a stroke, undo, training, the film strip, the help listing the
strip's keys, hotkeys, Ctrl-Z bringing the last card back to the strip, a retrain while labeling, the review grid
filtered by labeler, HistomicsUI's job toast ending with the training job), checks what the server stored after
every step and saves a screenshot of each screen in test-artifacts/. Its timings (issue 10 item 7) go to
test-artifacts/guided_timings.json.
"""
import json
import os
import subprocess
import time

import girder_client

from conftest import ARTIFACTS
from test_demo_browser import BROWSER_DIR, demo  # noqa: F401 (the demo server fixture)

LABELER = ('labeler', 'labeler-password')


def add_labeler(client, folder):
    """A non-admin user with write access on the demo folder; returns the user."""
    user = client.post('user', parameters={
        'login': LABELER[0], 'password': LABELER[1], 'email': 'labeler@example.com',
        'firstName': 'Lab', 'lastName': 'Eler'})
    access = client.get('folder/%s/access' % folder['_id'])
    access['users'].append({'id': user['_id'], 'level': 1, 'flags': []})
    client.put('folder/%s/access' % folder['_id'], parameters={'access': json.dumps(access)})
    return user


def segmented_project(client, folder, timeout=600):
    """A project of the demo folder with small superpixels, segmented and featurized on the worker."""
    project = client.post('histomics_label/project', parameters={
        'folderId': folder['_id'], 'name': 'Guided labeling e2e', 'settings': json.dumps({'radius': 50})})
    path = 'histomics_label/project/%s' % project['_id']
    client.post(path + '/segment')
    deadline = time.time() + timeout
    while True:
        state = client.get(path + '/status')['slides'][0]
        if state['features'].get('status') == 'done':
            return project, state
        assert 'error' not in (state['segmentation'].get('status'), state['features'].get('status')), state
        assert time.time() < deadline, state
        time.sleep(1)


def test_labeler_guided_labeling_in_the_browser(demo):  # noqa: F811
    admin = girder_client.GirderClient(apiUrl=demo['url'] + '/api/v1')
    admin.authenticate('admin', 'histomics')
    collection = admin.get('collection')[0]
    folder = admin.get('folder', parameters={'parentType': 'collection', 'parentId': collection['_id']})[0]
    slide = admin.get('item', parameters={'folderId': folder['_id']})[0]
    labeler = add_labeler(admin, folder)
    project, state = segmented_project(admin, folder)
    assert state['superpixelCount'] > 500

    summary_path = os.path.join(ARTIFACTS, 'guided_summary.json')
    result = subprocess.run(
        ['node', 'guided_labeling.mjs', demo['url'], LABELER[0], LABELER[1], project['_id'], slide['_id'],
         ARTIFACTS], cwd=BROWSER_DIR, capture_output=True, text=True, timeout=900)
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    summary = json.loads(open(summary_path).read())

    # what the server holds at the end, as admin, against what the browser wrote
    labeler_client = girder_client.GirderClient(apiUrl=demo['url'] + '/api/v1')
    labeler_client.authenticate(*LABELER)
    assert labeler_client.get('user/me')['admin'] is False
    path = 'histomics_label/project/%s' % project['_id']
    labels = admin.get(path + '/label', parameters={'limit': 0})
    assert labels and {label['userId'] for label in labels} == {labeler['_id']}
    stored = {'%s:%d' % (label['itemId'], label['superpixel']): label for label in labels}
    assert sorted(stored) == sorted(summary['finalKeys'])
    assert {label['source'] for label in labels} == {'paint', 'guided'}
    guided = [key for key in summary['guidedKeys']]
    assert len(guided) >= 5 and all(stored[key]['source'] == 'guided' for key in guided)
    status = admin.get(path + '/status')
    assert status['epoch'] == 2 and status['training']['status'] == 'done'
    categories = {c['name']: c for c in admin.get(path + '/category')}
    assert set(categories) == {'Tumor', 'Stroma'}
    assert (categories['Tumor']['hotkey'], categories['Stroma']['hotkey']) == ('1', '2')
    queue = admin.get(path + '/review/queue', parameters={'labelerId': labeler['_id'], 'limit': 0})
    assert queue['total'] == len(labels)

    for name in summary['screenshots']:
        assert os.path.getsize(os.path.join(ARTIFACTS, name)) > 20000, name
    timings = json.loads(open(os.path.join(ARTIFACTS, 'guided_timings.json')).read())
    for key in ('clickToColour', 'clickToAcknowledged', 'nextCard', 'nextPage'):
        assert timings[key]['n'] >= 3, (key, timings[key])
    assert summary['errors'] == [], summary['errors']
