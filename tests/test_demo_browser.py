"""The README's demo command end to end, seen through a real browser.

Starts ``devops/serve.py`` (embedded database, private Redis, external Celery worker) on a free port,
runs tissue detection and a project (segment, featurize, label, train) through the REST API and the external
worker, then drives Debian's chromium with playwright-core (tests/browser/ui_check.mjs): the slide in
HistomicsUI with its annotation, the project's labels and predictions as pixelmaps, and our page.
Screenshots land in test-artifacts/. Finally Ctrl-C (SIGINT) must stop the server and its children.
"""
import json
import os
import signal
import subprocess
import sys
import time

import girder_client
import psutil
import pytest

from conftest import ARTIFACTS, REPO, free_port

sys.path.insert(0, os.path.join(REPO, 'benchmarks'))
import girder_stack  # noqa: E402

BROWSER_DIR = os.path.join(REPO, 'tests', 'browser')


@pytest.fixture
def demo(tmp_path):
    """The demo server with its worker; the test stops it with Ctrl-C (if it does not get there, this does)."""
    port = free_port()
    with girder_stack.demo(port, str(tmp_path)) as process:
        yield {'process': process, 'url': 'http://127.0.0.1:%d' % port, 'log': tmp_path / 'serve.log'}


wait_for_job = girder_stack.wait_job  # the job once it ended, through a girder_client


def run_demo_project(client, folder, slide):
    """Segment, featurize, label the top as Tumor and the bottom as Stroma, train, publish the pixelmaps;
    returns {annotation name: screenshot}."""
    project = client.post('histomics_label/project', parameters={'folderId': folder['_id'], 'name': 'Demo'})
    path = 'histomics_label/project/%s' % project['_id']
    client.post(path + '/segment')
    deadline = time.time() + 300
    while True:
        state = client.get(path + '/status')['slides'][0]
        if state['features'].get('status') == 'done':
            break
        assert 'error' not in (state['segmentation'].get('status'), state['features'].get('status')), state
        assert time.time() < deadline, state
        time.sleep(1)
    superpixels = client.get('annotation/%s' % state['segmentation']['annotationIds'][0])
    bbox = superpixels['annotation']['elements'][0]['user']['bbox']
    middle_y = [(bbox[4 * i + 1] + bbox[4 * i + 3]) / 2 for i in range(len(bbox) // 4)]
    tumor, stroma = (client.post(path + '/category', parameters={'name': name})['_id'] for name in ('Tumor', 'Stroma'))
    labels = [{'superpixel': i, 'categoryId': tumor} for i, y in enumerate(middle_y) if y < 900][:25] + [
        {'superpixel': i, 'categoryId': stroma} for i, y in enumerate(middle_y) if y > 2100][:25]
    client.put(path + '/label', json={'itemId': slide['_id'], 'labels': labels})
    job = wait_for_job(client, client.post(path + '/train')['_id'])
    assert job['status'] == 3, job.get('log')
    client.post(path + '/annotations')
    return {'Superpixels': 'histomicsui-superpixels.png', 'Demo: labels': 'histomicsui-labels.png',
            'Demo: predictions': 'histomicsui-predictions.png'}


def test_demo_serves_histomicsui_and_our_page_and_stops_on_ctrl_c(demo):
    output = demo['log'].read_text()
    assert 'EMBEDDED database: single-process demo storage' in output and 'Login:       admin / histomics' in output
    client = girder_client.GirderClient(apiUrl=demo['url'] + '/api/v1')
    client.authenticate('admin', 'histomics')
    collection = client.get('collection')[0]
    assert collection['name'] == 'Histomics Label Demo'
    folder = client.get('folder', parameters={'parentType': 'collection', 'parentId': collection['_id']})[0]
    slide = client.get('item', parameters={'folderId': folder['_id']})[0]
    assert slide['name'] == 'CMU-1-Small-Region.svs'
    assert client.get('item/%s/tiles' % slide['_id'])['sizeX'] == 2220

    # a job on the demo's own, external Celery worker process
    job = wait_for_job(client, client.post('histomics_label/slide/%s/tissue_detection' % slide['_id'])['_id'])
    assert job['status'] == 3, job.get('log')

    # the project pipeline on the same worker (CLIs in Girder mode), then its pixelmaps for HistomicsUI
    names = run_demo_project(client, folder, slide)

    result = subprocess.run(
        ['node', 'ui_check.mjs', demo['url'], 'admin', 'histomics', slide['_id'], ARTIFACTS, json.dumps(names)],
        cwd=BROWSER_DIR, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count('pixelmap tiles drawn') == 3, result.stdout
    for name in ('histomicsui-slide.png', 'histomics-label-home.png', 'histomicsui-superpixels.png',
                 'histomicsui-labels.png', 'histomicsui-predictions.png'):
        assert os.path.getsize(os.path.join(ARTIFACTS, name)) > 10000

    children = psutil.Process(demo['process'].pid).children(recursive=True)
    assert len(children) >= 2  # redis-server and the celery worker
    demo['process'].send_signal(signal.SIGINT)
    assert demo['process'].wait(60) == 0
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, 'still running after Ctrl-C: %r' % alive
