#!/usr/bin/env python
"""Benchmark label -> new ranked predictions visible to GET next, on the resident trainer and on the job path.

One command runs the real stack on this machine: a private redis-server, Girder with the plugin in this process
(embedded database, bound to a free port), a trainer worker (``celery -A girder_worker.app worker -Q
histomics_label.trainer -P solo -c 1``, fresh for each size) and a default-queue worker for TrainAndPredict jobs.
For each --sizes total superpixels it builds a synthetic embedding project (slides of --per-slide superpixels,
--dim-d float32 vectors around --categories cluster centres, features files imported in place), labels
--labels superpixels and trains once (the trainer loads the features: the cold epoch). Then, --repeats times,
it writes one label (retrainInterval 1, so the write triggers an epoch; the project's default strategy, BatchBALD
for new projects) and polls ``GET project/{id}`` (every
50 ms) until the new epoch is published, then calls ``GET next``: label -> GET next visible is the time from
sending the label to that answer. The trainer's job log gives where the time went (manifest, features, fit,
predict, rank, publish), the job's status times the queue wait. The other --kinds (with the default strategy, or
the one it falls back to) and --strategies (with the MLP) run once each.
Then, in the same run:

- the job path: the same label write with ``histomics_label.resident_trainer`` off, so the epoch is a
  TrainAndPredict CLI job (subprocess, imports, download and read every features file, train, upload), with
  the peak RSS of the worker's processes;
- today's (pre-issue 11) core: ``train_and_predict`` of the commit before the resident trainer's core, on the
  same features read from the same files as the CLI reads them, in a subprocess (time and peak RSS), for sizes
  up to --old-core-max (the issue measured 19.6 GB at 1M: too much for a shared 23 GB machine by default).

Prints the load average with the figures (the machine may be shared) and writes JSON to --output.
"""
import argparse
import contextlib
import ctypes
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from girder_stack import free_port, serve, stop
from girder_stack import wait_job as wait_stack_job

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = ('manifest', 'features', 'fit', 'predict', 'rank', 'publish')
OLD_CORE_MARK = 'Core for fast epochs'  # the commit that replaced the pre-issue core
#: the pre-issue core ranks by the default strategy of its time (the issue's figures): its BatchBALD scored
#: every superpixel as a candidate, hours at 100k
OLD_CORE_STRATEGY = 'confidence'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[100000, 1000000])
    parser.add_argument('--per-slide', type=int, default=50000)
    parser.add_argument('--dim', type=int, default=1280)
    parser.add_argument('--categories', type=int, default=8)
    parser.add_argument('--labels', type=int, default=200, help='labels before the timed label writes')
    parser.add_argument('--repeats', type=int, default=5, help='timed label writes with the default model')
    parser.add_argument('--kinds', nargs='*', default=['linear', 'logistic'], help='other model kinds, once each')
    parser.add_argument('--strategies', nargs='*', help='other acquisition strategies, once each with the MLP '
                        '(default: all but the project default)')
    parser.add_argument('--no-job-path', action='store_true', help='skip the TrainAndPredict job path')
    parser.add_argument('--old-core-max', type=int, default=100000,
                        help='run the pre-issue core only up to this many superpixels (it needs ~20 GB at 1M)')
    parser.add_argument('--workdir', help='keep files here (default: a temporary folder, removed)')
    parser.add_argument('--output', default=os.path.join(tempfile.gettempdir(), 'bench_retrain.json'))
    parser.add_argument('--old-core', nargs=2, metavar=('SOURCE', 'MANIFEST'), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _die_with_parent():
    """In a child: get SIGTERM when the benchmark dies, however it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Stack:
    """redis-server, Girder in this process, worker processes; all stopped on exit."""

    def __init__(self, workdir):
        self.workdir, self.children = workdir, []
        self.broker = 'redis://127.0.0.1:%d/0' % self._redis()
        os.environ.update(GIRDER_WORKER_BROKER=self.broker, GIRDER_WORKER_BACKEND=self.broker)
        self.port = free_port()
        self._girder()

    def _spawn(self, command, log, env=None):
        process = subprocess.Popen(command, stdout=open(os.path.join(self.workdir, log), 'ab'),
                                   stderr=subprocess.STDOUT, env=env, cwd=self.workdir, start_new_session=True,
                                   preexec_fn=_die_with_parent)
        self.children.append(process)
        return process

    def _redis(self):
        port = free_port()
        self._spawn([shutil.which('redis-server') or sys.exit('redis-server is not installed'), '--port', str(port),
                     '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], 'redis.log')
        for _ in range(100):
            with contextlib.suppress(OSError):
                socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
                return port
            time.sleep(0.1)
        sys.exit('redis-server did not start')

    def _girder(self):
        self.api_url = serve(self.port, self.workdir, database='bench_retrain')
        from girder.models.assetstore import Assetstore
        from girder.models.setting import Setting
        from girder.models.user import User

        from histomics_label.settings import TRAINER_QUEUE

        self.admin = User().createUser('bench', 'benchmark', 'Bench', 'Mark', 'bench@example.invalid', admin=True)
        self.assetstore = Assetstore().createFilesystemAssetstore('bench', os.path.join(self.workdir, 'assetstore'))
        for key, value in (('worker.api_url', self.api_url), ('worker.broker', self.broker),
                           ('worker.backend', self.broker), (TRAINER_QUEUE, 'histomics_label.trainer')):
            Setting().set(key, value)
        import girder_client

        self.client = girder_client.GirderClient(apiUrl=self.api_url)
        self.client.authenticate('bench', 'benchmark')

    def worker(self, queue, name):
        env = dict(os.environ, C_FORCE_ROOT='1')
        celery = os.path.join(os.path.dirname(sys.executable), 'celery')
        return self._spawn([celery, '-A', 'girder_worker.app', 'worker', '-Q', queue, '-P', 'solo', '-c', '1',
                            '-n', '%s@bench' % name, '--without-gossip', '--without-mingle', '--loglevel',
                            'warning'], 'worker-%s.log' % name, env)

    def wait_ready(self, name, timeout=120):
        """Wait until worker ``name`` answers a ping (started and consuming)."""
        from celery import Celery

        control = Celery(broker=self.broker).control
        deadline = time.monotonic() + timeout
        while not control.ping(['%s@bench' % name], timeout=0.5):
            if time.monotonic() > deadline:
                raise RuntimeError('worker %s did not start within %d s' % (name, timeout))

    def stop(self, process=None):
        for child in [process] if process else reversed(self.children):
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(20)
                if child.poll() is None:
                    os.killpg(child.pid, signal.SIGKILL)

    def close(self):
        self.stop()
        stop()


def synthetic_project(stack, name, size, args):
    """A project of ``size`` superpixels in slides of ``--per-slide``, featurized with files imported in place;
    returns (project, {slide index: (item id, count)}, category ids, the features files, the true class of
    superpixel id i: i % categories)."""
    from girder.models.collection import Collection
    from girder.models.file import File
    from girder.models.folder import Folder
    from girder.models.item import Item

    from histomics_label.core.features.store import FeatureWriter
    from histomics_label.jobs.pipeline import ingest_features
    from histomics_label.models.category import Category
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    admin = stack.admin
    collection = Collection().findOne({'name': 'Bench'}) or Collection().createCollection('Bench', admin)
    folder = Folder().createFolder(collection, name, parentType='collection', creator=admin)
    counts = [args.per_slide] * (size // args.per_slide) + ([size % args.per_slide] if size % args.per_slide else [])
    features_dir = os.path.join(stack.workdir, 'features', name)
    os.makedirs(features_dir, exist_ok=True)
    for number in range(len(counts)):
        item = Item().createItem('slide%03d.svs' % number, admin, folder)
        item['largeImage'] = {'fileId': item['_id'], 'sourceName': 'synthetic'}
        Item().save(item)
    project = Project().create(folder, admin, name)
    ProjectSlide().sync(project, folder)
    data_folder = Project().data_folder(project, admin)
    centres = np.random.default_rng(0).normal(0, 1, (args.categories, args.dim)).astype(np.float32)
    slides, paths = {}, []
    for slide, count in zip(ProjectSlide().list(project), counts):
        grid = np.column_stack([np.arange(count) % 1000, np.arange(count) // 1000]).astype(float) * 20 + 10
        slide = SuperpixelGeometry().store(slide, grid, np.hstack([grid - 10, grid + 10]))
        path = os.path.join(features_dir, 'slide%03d.h5' % slide['index'])
        rng = np.random.default_rng([1, slide['index']])
        with FeatureWriter(path, np.arange(count), (args.dim,), 'embedding', backbone='synthetic') as writer:
            for start in range(0, count, 10000):
                ids = np.arange(start, min(count, start + 10000))
                writer.append(centres[ids % args.categories] + rng.normal(0, 1.5, (len(ids), args.dim)))
        item = Item().createItem(os.path.basename(path), admin, data_folder)
        file = File().createFile(admin, item, os.path.basename(path), os.path.getsize(path), stack.assetstore,
                                 mimeType='application/x-hdf5', saveFile=False)
        file.update(path=path, imported=True)
        file = File().save(file)
        ingest_features(project, slide, {'outputFeatures': {'fileId': file['_id']}}, admin)
        slides[slide['index']] = (str(slide['itemId']), count)
        paths.append((slide['index'], path))
    category_ids = [str(Category().create(project, 'class %d' % c)['_id']) for c in range(args.categories)]
    return Project().load(project['_id'], force=True), slides, category_ids, paths


class Labeler:
    """Writes labels through the REST API (true class of superpixel i: i % categories), never twice."""

    def __init__(self, stack, project, slides, category_ids, seed=0):
        self.stack, self.project, self.slides, self.category_ids = stack, project, slides, category_ids
        self.rng, self.done = np.random.default_rng(seed), set()
        self.path = 'histomics_label/project/%s' % project['_id']

    def pick(self):
        while True:
            index = int(self.rng.choice(list(self.slides)))
            superpixel = int(self.rng.integers(self.slides[index][1]))
            if (index, superpixel) not in self.done:
                self.done.add((index, superpixel))
                return index, superpixel

    def write(self, count):
        """Label ``count`` new superpixels (one request per slide); returns the last response."""
        by_slide = {}
        for _ in range(count):
            index, superpixel = self.pick()
            by_slide.setdefault(index, []).append(superpixel)
        response = None
        for index, superpixels in by_slide.items():
            response = self.stack.client.put(self.path + '/label', json={
                'itemId': self.slides[index][0], 'labels': [
                    {'superpixel': s, 'categoryId': self.category_ids[s % len(self.category_ids)]}
                    for s in superpixels]})
        return response


def wait_job(client, job_id):
    return wait_stack_job(client, job_id, timeout=3600, poll=0.2)


def job_log(job_id):
    from girder_jobs.models.job import Job

    job = Job().load(job_id, force=True, includeLog=True)
    return job, ''.join(job.get('log') or [])


def step_times(log):
    """The resident trainer's per-step seconds from its job log."""
    return {name: float(value) for name, value in re.findall(r'(\w+) ([0-9.]+) s', log.split('labels; ')[-1])}


def queue_wait(job):
    """Seconds from the job's creation to its RUNNING status."""
    running = [t['time'] for t in job.get('timestamps') or [] if t.get('status') == 2]
    return (running[0] - job['created']).total_seconds() if running else None


def timed_label(stack, labeler, project_id, poll=0.05):
    """Write one label that triggers an epoch; returns (seconds to the label answer, to the epoch published, to
    GET next answering with it, job id, seconds of that GET next). Polls ``GET project/{id}`` every ``poll``
    seconds (a client's polling costs the server CPU that the trainer shares, so not more often)."""
    path = 'histomics_label/project/%s' % project_id
    epoch = stack.client.get(path)['epoch']
    start = time.perf_counter()
    response = labeler.write(1)
    answered = time.perf_counter() - start
    if not response.get('retrainJobId'):
        raise RuntimeError('the label write started no epoch: %r' % response)
    while stack.client.get(path)['epoch'] == epoch:
        time.sleep(poll)
    published = time.perf_counter() - start
    stack.client.get(path + '/next', parameters={'limit': 20})
    visible = time.perf_counter() - start
    return {'label': answered, 'published': published, 'visible': visible, 'next': visible - published,
            'jobId': response['retrainJobId']}


class PeakRss:
    """Peak resident memory of a process and its descendants, sampled every 50 ms (the sum over processes
    alive at once), plus the kernel's own high-water mark of the main process."""

    def __init__(self, pid):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self):
        pids, frontier = {self.pid}, [self.pid]
        while frontier:
            parent = frontier.pop()
            with contextlib.suppress(OSError):
                for child in open('/proc/%d/task/%d/children' % (parent, parent)).read().split():
                    pids.add(int(child))
                    frontier.append(int(child))
        return pids

    def _run(self):
        while not self._stop.wait(0.05):
            total = 0
            for pid in self._tree():
                with contextlib.suppress(OSError):
                    rss = re.search(r'VmRSS:\s+(\d+)', open('/proc/%d/status' % pid).read())
                    total += int(rss.group(1)) if rss else 0  # a zombie has none
            self.peak = max(self.peak, total * 1024)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def high_water(pid):
    """The kernel's peak RSS (VmHWM) of a process, in bytes."""
    return int(re.search(r'VmHWM:\s+(\d+)', open('/proc/%d/status' % pid).read()).group(1)) * 1024


def measure_size(stack, size, args, results):
    from girder.models.setting import Setting

    from histomics_label.settings import RESIDENT_TRAINER

    name = 'p%d' % size
    started = time.perf_counter()
    project, slides, category_ids, paths = synthetic_project(stack, name, size, args)
    print('\n%s superpixels: project built in %.0f s (%d slides of %d x %d float32)' % (
        format(size, ','), time.perf_counter() - started, len(slides), args.per_slide, args.dim), flush=True)
    row = results.setdefault(str(size), {'superpixels': size, 'load': [os.getloadavg()]})
    trainer = stack.worker('histomics_label.trainer', 'trainer%d' % size)
    stack.wait_ready('trainer%d' % size)  # a site's trainer is up before the first label
    path = 'histomics_label/project/%s' % project['_id']
    labeler = Labeler(stack, project, slides, category_ids)
    labeler.write(args.labels - 1)
    stack.client.put(path, parameters={'settings': json.dumps({'retrainInterval': 1})})  # each write trains
    cold = timed_label(stack, labeler, project['_id'])
    job, log = job_log(wait_job(stack.client, cold['jobId'])['_id'])
    row['cold'] = dict(cold, steps=step_times(log), queue=queue_wait(job))
    print('  cold epoch (trainer loads %d features files): label -> GET next %.2f s; %s' % (
        len(slides), cold['visible'], describe_steps(row['cold'])), flush=True)
    warm = []
    for _ in range(args.repeats):
        result = timed_label(stack, labeler, project['_id'])
        job, log = job_log(wait_job(stack.client, result['jobId'])['_id'])
        warm.append(dict(result, steps=step_times(log), queue=queue_wait(job),
                         quality=step_times(log).get('quality')))
    row['resident'] = {'kind': 'mlp', 'runs': warm}
    print('  resident, mlp + %d MC samples, %s, warm: label -> GET next median %.2f s (min %.2f, max %.2f) over %d; '
          'median %s' % (20, default_strategy(), median(warm, 'visible'), min(r['visible'] for r in warm),
                         max(r['visible'] for r in warm), len(warm), describe_steps(median_run(warm))), flush=True)
    for kind in args.kinds:
        stack.client.put(path, parameters={'settings': json.dumps({'modelKind': kind})})
        result = timed_label(stack, labeler, project['_id'])
        job, log = job_log(wait_job(stack.client, result['jobId'])['_id'])
        assert job['status'] == 3, log
        ranked = stack.client.get(path)['model']['strategy']  # a kind without MC dropout falls back
        row.setdefault('kinds', {})[kind] = dict(result, steps=step_times(log), queue=queue_wait(job), strategy=ranked)
        print('  resident, %s (ranked by %s): label -> GET next %.2f s; %s' % (
            kind, ranked, result['visible'], describe_steps(row['kinds'][kind])), flush=True)
    stack.client.put(path, parameters={'settings': json.dumps({'modelKind': 'mlp'})})
    for strategy in args.strategies:
        stack.client.put(path, parameters={'settings': json.dumps({'certaintyMetric': strategy})})
        result = timed_label(stack, labeler, project['_id'])
        job, log = job_log(wait_job(stack.client, result['jobId'])['_id'])
        assert job['status'] == 3, log
        row.setdefault('strategies', {})[strategy] = dict(result, steps=step_times(log), queue=queue_wait(job))
        print('  resident, mlp, %s: label -> GET next %.2f s; %s' % (
            strategy, result['visible'], describe_steps(row['strategies'][strategy])), flush=True)
    stack.client.put(path, parameters={'settings': json.dumps({'certaintyMetric': default_strategy()})})
    row['trainerPeakRss'] = high_water(trainer.pid)
    row['cacheDtype'] = re.search(r'cached, as (\w+)\)', log).group(1)
    print('  trainer worker peak RSS %.2f GB (features cached: %.2f GB as %s)' % (
        row['trainerPeakRss'] / 1e9, size * args.dim * (4 if row['cacheDtype'] == 'float32' else 2) / 1e9,
        row['cacheDtype']), flush=True)
    stack.stop(trainer)
    if not args.no_job_path:
        Setting().set(RESIDENT_TRAINER, False)
        sampler = PeakRss(stack.default_worker.pid)
        result = timed_label(stack, labeler, project['_id'], poll=0.2)
        job, log = job_log(wait_job(stack.client, result['jobId'])['_id'])
        row['job'] = dict(result, peakRss=sampler.stop(), queue=queue_wait(job), status=job['status'])
        Setting().set(RESIDENT_TRAINER, True)
        print('  job path (TrainAndPredict job, this code): label -> GET next %.1f s, worker + CLI peak RSS %.2f GB'
              % (result['visible'], row['job']['peakRss'] / 1e9), flush=True)
    if size <= args.old_core_max:
        row['oldCore'] = old_core(stack, project, paths, args)
        print('  pre-issue core (train_and_predict of %s ranking by %s, features read as TrainAndPredict reads '
              'them): %.1f s compute (+ %.1f s reading), peak RSS %.2f GB' % (
                  row['oldCore']['revision'][:8], OLD_CORE_STRATEGY, row['oldCore']['seconds'],
                  row['oldCore']['readSeconds'],
                  row['oldCore']['peakRss'] / 1e9), flush=True)
    row['load'].append(os.getloadavg())
    print('  load average (1, 5, 15 min) before %s, after %s' % tuple(
        '/'.join('%.1f' % v for v in load) for load in (row['load'][0], row['load'][-1])), flush=True)


def default_strategy():
    """The acquisition strategy of a new project (``certaintyMetric``'s default)."""
    from histomics_label.models.project import SETTINGS

    return SETTINGS['certaintyMetric'][1]


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def median_run(runs):
    return sorted(runs, key=lambda r: r['visible'])[len(runs) // 2]


def describe_steps(run):
    steps = run['steps']
    parts = ['label write %.3f' % run['label'], 'queue %.3f' % (run['queue'] or 0)] + [
        '%s %.3f' % (step, steps[step]) for step in STEPS if step in steps] + ['GET next %.3f' % run['next']]
    return ', '.join(parts) + ' s'


def old_core(stack, project, paths, args):
    """The pre-issue core on the same features and the labels of the project's newest manifest."""
    from girder.models.file import File

    from histomics_label.models.project import Project

    revision = subprocess.run(['git', 'log', '--format=%H', '-1', '--grep', OLD_CORE_MARK], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
    if not revision:
        raise RuntimeError('no commit "%s" in this repository' % OLD_CORE_MARK)
    revision = revision + '^'
    source = os.path.join(stack.workdir, 'old-core')
    shutil.rmtree(source, ignore_errors=True)
    os.makedirs(source)
    archive = subprocess.run(['git', 'archive', revision, 'histomics_label'], cwd=REPO, capture_output=True,
                             check=True).stdout
    subprocess.run(['tar', '-x', '-C', source], input=archive, check=True)
    training = Project().load(project['_id'], force=True)['training']
    with File().open(File().load(training['manifestFileId'], force=True)) as stream:
        manifest = json.loads(stream.read())
    manifest['paths'] = paths
    labels_path = os.path.join(stack.workdir, 'old-core-manifest.json')
    with open(labels_path, 'w') as f:
        json.dump(manifest, f)
    result = subprocess.run([sys.executable, __file__, '--old-core', source, labels_path],
                            capture_output=True, text=True)
    if result.returncode:
        return {'revision': revision, 'error': result.stderr[-2000:], 'seconds': float('nan'),
                'readSeconds': float('nan'), 'peakRss': 0}
    return dict(json.loads(result.stdout.splitlines()[-1]), revision=subprocess.run(
        ['git', 'rev-parse', revision], cwd=REPO, capture_output=True, text=True).stdout.strip())


def run_old_core(source, manifest_path):
    """In a subprocess: TrainAndPredict's reading and train_and_predict call, with the old package first."""
    import resource

    sys.path.insert(0, source)
    from histomics_label.core.features.store import read_features
    from histomics_label.core.training import train_and_predict

    assert train_and_predict.__code__.co_filename.startswith(source)
    with open(manifest_path) as f:
        manifest = json.load(f)
    start = time.perf_counter()
    slides = {}
    for index, path in manifest['paths']:
        ids, values, _ = read_features(path)
        slides[index] = (ids, values)
    read = time.perf_counter() - start
    start = time.perf_counter()
    train_and_predict(slides, manifest['labels'], manifest['categories'], excluded=manifest['excluded'],
                      model_kind=manifest['modelKind'], strategy=OLD_CORE_STRATEGY, mc_samples=20,
                      seed=manifest['seed'])
    print(json.dumps({'seconds': time.perf_counter() - start, 'readSeconds': read,
                      'peakRss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def main(argv=None):
    args = parse_args(argv)
    if args.old_core:  # before anything imports histomics_label from this checkout
        return run_old_core(*args.old_core)
    if args.strategies is None:
        from histomics_label.core.acquisition import STRATEGIES

        args.strategies = [name for name in STRATEGIES if name != default_strategy()]
    workdir = args.workdir or tempfile.mkdtemp(prefix='bench_retrain_')
    os.makedirs(workdir, exist_ok=True)
    print('bench_retrain: %s, %d cores, load average %s; work folder %s' % (
        datetime.datetime.now().isoformat(timespec='seconds'), os.cpu_count(),
        '/'.join('%.1f' % v for v in os.getloadavg()), workdir), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit('stopped'))  # clean up (finally below) on SIGTERM too
    stack = Stack(workdir)
    results = {'started': datetime.datetime.now().isoformat(), 'cores': os.cpu_count(), 'args': vars(args),
               'sizes': {}}
    try:
        stack.default_worker = stack.worker('celery', 'default')
        for size in args.sizes:
            measure_size(stack, size, args, results['sizes'])
            with open(args.output, 'w') as f:
                json.dump(results, f, indent=1, default=str)
    finally:
        stack.close()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(summary(results['sizes']))
    print('\nResults: %s' % args.output)


def summary(sizes):
    """The headline table (markdown): label -> GET next visible per path, and peak memory."""
    header = ('superpixels', 'resident trainer, MLP, %s (median of warm epochs)' % default_strategy(),
              'resident, other kinds', 'TrainAndPredict job (this code)', 'pre-issue core: compute only',
              'peak RSS: trainer / job / pre-issue')
    lines = ['', '| %s |' % ' | '.join(header), '|---' * len(header) + '|']
    for row in sizes.values():
        runs = row.get('resident', {}).get('runs', [])
        kinds = row.get('kinds', {})
        old = row.get('oldCore')
        lines.append('| {:,} | {} | {} | {} | {} | {} |'.format(
            row['superpixels'], '%.2f s (%.2f-%.2f)' % (median(runs, 'visible'), min(r['visible'] for r in runs),
                                                       max(r['visible'] for r in runs)) if runs else '-',
            ', '.join('%s %.2f s' % (k, kinds[k]['visible']) for k in kinds) or '-',
            '%.1f s' % row['job']['visible'] if 'job' in row else '-',
            '%.1f s' % old['seconds'] if old and not old.get('error') else '-',
            ' / '.join('%.2f GB' % (value / 1e9) if value else '-' for value in (
                row.get('trainerPeakRss'), row.get('job', {}).get('peakRss'), (old or {}).get('peakRss')))))
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
