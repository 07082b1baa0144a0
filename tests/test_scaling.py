"""Scaling out on girder_worker: one project's per-slide jobs spread over several Celery workers.

``devops/serve.py`` runs Girder without a worker of its own, on a Redis broker of the test's; two Celery workers
are then started as separate processes, each with its own node name, HOME, TMPDIR and working folder, like two
worker hosts of a DSA site sharing one broker (options as docs/scaling.md recommends). A project of two slides
is segmented and featurized through REST. Each worker's log lists the Celery task ids it received; Girder's jobs
carry those ids (``celeryTaskId``) and their RUNNING / SUCCESS times, from which the test checks that both
workers ran jobs, that jobs ran at the same time on both and that the wall time is below the sum of the job
durations. The figures (with the server's CPU time for the project) go to test-artifacts/scaling.json and are
quoted in docs/scaling.md.
"""
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

import girder_client
import psutil
import pytest
import redis

from conftest import ARTIFACTS, REPO, free_port

DEMO_SLIDE = os.path.join(REPO, 'devops', 'demo_data', 'CMU-1-Small-Region.svs')
#: fair dispatch for long jobs: one job at a time per worker, and a busy worker takes no further message
WORKER_OPTIONS = ['--concurrency', '1', '--prefetch-multiplier', '1', '-O', 'fair', '--disable-prefetch',
                  '--without-gossip', '--without-mingle', '--loglevel', 'info']
RECEIVED = re.compile(r'Task histomics_label\.jobs\.worker_tasks\.run_cli\[([0-9a-f-]+)\] received')
RUNNING, SUCCESS = 2, 3


def stop_process_group(process, sig=signal.SIGTERM, timeout=20):
    """Stop a child started in its own session and everything it started (e.g. a worker's CLI)."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def wait_for_line(process, log_path, text, timeout, what):
    deadline = time.time() + timeout
    while text not in log_path.read_text():
        if process.poll() is not None or time.time() > deadline:
            pytest.fail('%s did not start:\n%s' % (what, log_path.read_text()[-3000:]))
        time.sleep(0.3)


@pytest.fixture
def broker(redis_url):
    """An emptied Redis database of this test's own on the test server, so no other test's queue mixes in."""
    url = urllib.parse.urlsplit(redis_url)._replace(path='/7').geturl()
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def girder(tmp_path, broker):
    """The demo server without a worker, on ``broker``: its API URL and its process (Girder and the embedded
    database run in it)."""
    port, log_path = free_port(), tmp_path / 'serve.log'
    with open(log_path, 'w') as log:
        process = subprocess.Popen(
            [sys.executable, os.path.join(REPO, 'devops', 'serve.py'), '--port', str(port), '--no-worker',
             '--broker', broker, '--data-dir', str(tmp_path / 'server')],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_line(process, log_path, 'Press Ctrl-C to stop.', 120, 'the server')
        yield {'api': 'http://127.0.0.1:%d/api/v1' % port, 'process': psutil.Process(process.pid)}
    finally:
        stop_process_group(process, signal.SIGINT, timeout=60)


def start_worker(folder, name, broker):
    """A Celery worker node ``name@host`` as a worker host would run it: its own HOME, TMPDIR and folder."""
    for sub in ('home', 'tmp'):
        (folder / sub).mkdir(parents=True)
    env = dict(os.environ, GIRDER_WORKER_BROKER=broker, GIRDER_WORKER_BACKEND=broker, C_FORCE_ROOT='1',
               HOME=str(folder / 'home'), TMPDIR=str(folder / 'tmp'))
    celery = os.path.join(os.path.dirname(sys.executable), 'celery')
    log_path = folder / 'worker.log'
    with open(log_path, 'w') as log:
        process = subprocess.Popen(
            [celery, '-A', 'girder_worker.app', 'worker', '-n', name + '@%h'] + WORKER_OPTIONS,
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(folder), start_new_session=True)
    return process, log_path


@pytest.fixture
def workers(tmp_path, girder, broker):
    """Two worker processes on the shared broker; yields {node name: log path}."""
    started = {}
    try:
        for name in ('worker1', 'worker2'):
            started[name] = start_worker(tmp_path / name, name, broker)
        for name, (process, log_path) in started.items():
            wait_for_line(process, log_path, ' ready.', 60, name)
        yield {name: log_path for name, (_, log_path) in started.items()}
    finally:
        for process, _ in started.values():
            stop_process_group(process)


def job_interval(job):
    """(start, end) in seconds since the epoch: the job's RUNNING and SUCCESS times as Girder recorded them."""
    times = {entry['status']: datetime.datetime.fromisoformat(entry['time']).timestamp()
             for entry in job['timestamps']}
    return times[RUNNING], times[SUCCESS]


def finished_job(client, job_id, timeout=60):
    """The job once it has left QUEUED / RUNNING (a CLI reports its outputs a moment before it exits)."""
    deadline = time.time() + timeout
    while True:
        job = client.get('job/%s' % job_id)
        if job['status'] not in (0, 1, RUNNING) or time.time() > deadline:
            return job
        time.sleep(0.3)


def run_project(client, folder_id, timeout=300):
    """Create a project on the folder, segment it (features follow by themselves) and wait until every slide
    is featurized; returns (the final status, wall seconds from the segment request)."""
    project = client.post('histomics_label/project', parameters={
        'folderId': folder_id, 'name': 'Scaling', 'settings': json.dumps({'radius': 60})})
    assert project['settings']['radius'] == 60, project
    path = 'histomics_label/project/%s' % project['_id']
    start = time.time()
    client.post(path + '/segment')
    deadline = start + timeout
    while True:
        status = client.get(path + '/status')
        for slide in status['slides']:
            assert 'error' not in (slide['segmentation'].get('status'), slide['features'].get('status')), slide
        if all(slide['featurized'] for slide in status['slides']):
            return status, time.time() - start
        assert time.time() < deadline, [(slide['name'], slide['segmentation'], slide['features'])
                                         for slide in status['slides']]
        time.sleep(0.5)


def test_two_workers_segment_and_featurize_a_project_concurrently(girder, workers):
    client = girder_client.GirderClient(apiUrl=girder['api'])
    client.authenticate('admin', 'histomics')
    collection = client.get('collection')[0]
    folder = client.get('folder', parameters={'parentType': 'collection', 'parentId': collection['_id']})[0]
    copy = client.uploadFileToFolder(folder['_id'], DEMO_SLIDE, filename='CMU-1-Small-Region copy.svs')
    assert 'largeImage' in client.get('item/%s' % copy['itemId'])
    assert len(client.get('item', parameters={'folderId': folder['_id']})) == 2

    cpu_before = sum(girder['process'].cpu_times()[:2])
    status, wall = run_project(client, folder['_id'])
    girder_cpu = sum(girder['process'].cpu_times()[:2]) - cpu_before

    # the same image twice: identical superpixels (tissue only, ~radius^2 px each) whichever worker segmented it
    counts = [slide['superpixelCount'] for slide in status['slides']]
    assert len(counts) == 2 and counts[0] == counts[1] > 500, counts

    received = {name: set(RECEIVED.findall(log_path.read_text())) for name, log_path in workers.items()}
    jobs = []
    for slide in status['slides']:
        for stage in ('segmentation', 'features'):
            job = finished_job(client, slide[stage]['jobId'])
            assert job['status'] == SUCCESS, job.get('log')
            ran_on = [name for name, ids in received.items() if job['celeryTaskId'] in ids]
            assert len(ran_on) == 1, (job['celeryTaskId'], received)
            start, end = job_interval(job)
            jobs.append({'slide': slide['name'], 'stage': stage, 'worker': ran_on[0], 'start': start, 'end': end})

    by_worker = {name: [job for job in jobs if job['worker'] == name] for name in workers}
    assert all(by_worker.values()), 'a worker ran no job: %r' % jobs
    for mine in by_worker.values():  # concurrency 1 and no prefetch: a worker's jobs run one after another
        mine.sort(key=lambda job: job['start'])
        assert all(a['end'] <= b['start'] for a, b in zip(mine, mine[1:])), mine
    overlaps = [max(0.0, min(a['end'], b['end']) - max(a['start'], b['start']))
                for a in by_worker['worker1'] for b in by_worker['worker2']]
    assert max(overlaps) > 1.0, jobs
    busy = sum(job['end'] - job['start'] for job in jobs)
    assert wall < busy, (wall, busy, jobs)

    origin = min(job['start'] for job in jobs)
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, 'scaling.json'), 'w') as f:
        json.dump({'wallSeconds': round(wall, 1), 'sumOfJobSeconds': round(busy, 1),
                   'girderCpuSeconds': round(girder_cpu, 1), 'loadAverage': os.getloadavg(),
                   'superpixelsPerSlide': counts[0], 'cpuCount': psutil.cpu_count(),
                   'jobs': [dict(job, start=round(job['start'] - origin, 1), end=round(job['end'] - origin, 1))
                            for job in jobs]}, f, indent=1)
