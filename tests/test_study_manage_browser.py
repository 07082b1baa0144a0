"""Issue 12's study-management panels end to end, in a real browser.

Starts ``devops/serve.py`` (embedded database, its own Redis and Celery worker), makes a rater with write access
on the demo folder and, as admin, a segmented project with two categories. Then tests/browser/study_manage.mjs
drives chromium: as the lead (the folder admin) the Manage tab gives the rater the expert role and assigns them
the slide; as the rater the Guided tab says "Assigned to you" and the film strip shows the queue first, three
cards of which are labeled by hotkey; as the lead again an export job runs to its end and lists its files, and a
GeoJSON upload is imported as predictions. Screenshots land in test-artifacts/manage-*.png. Here the test checks
what the server holds at the end.
"""
import json
import os
import subprocess

import girder_client

from conftest import ARTIFACTS
from test_demo_browser import BROWSER_DIR, demo  # noqa: F401 (the demo server fixture)
from test_guided_labeling_browser import LABELER, add_labeler, segmented_project


def test_lead_manages_a_study_and_a_rater_works_the_queue(demo):  # noqa: F811
    admin = girder_client.GirderClient(apiUrl=demo['url'] + '/api/v1')
    admin.authenticate('admin', 'histomics')
    collection = admin.get('collection')[0]
    folder = admin.get('folder', parameters={'parentType': 'collection', 'parentId': collection['_id']})[0]
    slide = admin.get('item', parameters={'folderId': folder['_id']})[0]
    rater = add_labeler(admin, folder)
    project, state = segmented_project(admin, folder)
    path = 'histomics_label/project/%s' % project['_id']
    tumor = admin.post(path + '/category', parameters={'name': 'Tumor', 'hotkey': '1'})
    admin.post(path + '/category', parameters={'name': 'Stroma', 'hotkey': '2'})

    result = subprocess.run(
        ['node', 'study_manage.mjs', demo['url'], 'admin', 'histomics', LABELER[0], LABELER[1], project['_id'],
         slide['_id'], ARTIFACTS], cwd=BROWSER_DIR, capture_output=True, text=True, timeout=600)
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    summary = json.loads(open(os.path.join(ARTIFACTS, 'manage_summary.json')).read())

    study = admin.get(path + '/study')
    assert [(m['login'], m['roles']) for m in study['members']] == [(LABELER[0], ['expert'])]
    assignments = admin.get(path + '/assignment')
    assert [(a['name'], a['userIds'], a['overlap'], a['quota'], a['seed']) for a in assignments] == [
        ('Round 1', [rater['_id']], 1, 30, 7)]
    assert [(s['itemId'], s['count'], s['userIds']) for s in assignments[0]['slides']] == [
        (slide['_id'], 30, [rater['_id']])]

    labels = admin.get(path + '/label', parameters={'limit': 0})
    assert sorted('%s:%d' % (label['itemId'], label['superpixel']) for label in labels) == sorted(summary['labeled'])
    assert {(label['userId'], label['categoryId'], label['source']) for label in labels} == {
        (rater['_id'], tumor['_id'], 'guided')}
    rater_client = girder_client.GirderClient(apiUrl=demo['url'] + '/api/v1')
    rater_client.authenticate(*LABELER)
    queue = rater_client.get(path + '/queue', parameters={'limit': 0})
    assert (queue['assigned'], queue['done'], queue['remaining']) == (30, 3, 27)

    exports = admin.get(path + '/export')
    assert len(exports) == 1 and exports[0]['counts']['labels'] == 3
    assert exports[0]['formats'] == ['geojson', 'masks', 'coco', 'parquet']
    names = {item['name'] for item in admin.get('item', parameters={'folderId': exports[0]['folderId']})}
    assert names == {'geojson.zip', 'coco.json', 'superpixels.parquet', 'manifest.json'}
    assert names <= set(summary['files'])
    imported = admin.get(path + '/slide/%s/import' % slide['_id'], parameters={'limit': 1})
    assert [(s['name'], s['superpixels']) for s in imported['sources']] == [('test model', state['superpixelCount'])]
    assert imported['total'] == state['superpixelCount']

    for name in summary['screenshots']:
        assert os.path.getsize(os.path.join(ARTIFACTS, name)) > 20000, name
    assert summary['errors'] == [], summary['errors']
