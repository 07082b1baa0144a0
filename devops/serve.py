#!/usr/bin/env python
"""Run the Histomics Label demo: Girder + HistomicsUI + our plugin, a Redis broker and a Celery worker.

By default the database is EMBEDDED: an in-process mongomock, single-process demo storage saved to
<data-dir>/database.bson every --save-interval seconds and on a clean stop (Ctrl-C, SIGTERM), loaded at the
next start; a crash loses at most the last interval. A real site uses MongoDB: give --mongo-uri.
Everything else the demo keeps (uploaded files, logs) is under --data-dir too. On the first start it
provisions an admin, a filesystem assetstore and a collection "Histomics Label Demo" whose folder "Slides"
holds CMU-1-Small-Region.svs as a large image; later starts find them. Ctrl-C stops everything it started.
"""
import argparse
import atexit
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_SLIDE = os.path.join(HERE, 'demo_data', 'CMU-1-Small-Region.svs')
COLLECTION, FOLDER = 'Histomics Label Demo', 'Slides'
_children = []
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=int(os.environ.get('HISTOMICS_LABEL_PORT', 8080)))
    parser.add_argument('--mongo-uri', default=os.environ.get('HISTOMICS_LABEL_MONGO_URI'),
                        help='a real MongoDB, e.g. mongodb://127.0.0.1:27017/girder (default: embedded)')
    parser.add_argument('--broker', default=os.environ.get('HISTOMICS_LABEL_BROKER'),
                        help='an existing Celery broker URL (default: start a private redis-server)')
    parser.add_argument('--data-dir', default=os.path.join(os.path.dirname(HERE), '.demo'),
                        help='where the demo keeps its database snapshot, files and logs (default: %(default)s)')
    parser.add_argument('--save-interval', type=float, default=10, metavar='SECONDS',
                        help='save the embedded database this often when it changed (default: %(default)s)')
    parser.add_argument('--admin', default='admin')
    parser.add_argument('--password', default='histomics')
    parser.add_argument('--no-worker', action='store_true', help='do not start the Celery workers (jobs, trainer)')
    args = parser.parse_args(argv)
    if not args.save_interval > 0:
        parser.error('--save-interval must be a positive number of seconds')
    return args


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def spawn(command, log_path, env=None):
    """Start a child process, in the data folder, that is stopped when the demo stops.

    (Celery puts its working directory on sys.path; in the data folder it cannot pick up a source checkout
    instead of the installed package.)
    """
    log = open(log_path, 'ab')
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                               cwd=os.path.dirname(log_path), preexec_fn=_die_with_parent)
    _children.append(process)
    return process


def _die_with_parent():
    """In a child: get SIGTERM when the demo dies, even by SIGKILL, instead of running on orphaned."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_children():
    for process in reversed(_children):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in reversed(_children):
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    _children.clear()


def _on_ctrl_c(signum, frame):
    """The first Ctrl-C shuts down in order (the server, then the worker and Redis); another one while that
    runs stops the children and exits at once instead of interrupting the shutdown halfway."""
    signal.signal(signal.SIGINT, _force_exit)
    raise KeyboardInterrupt


def _force_exit(signum, frame):
    stop_children()
    os._exit(130)


def start_redis(data_dir):
    """A private redis-server on a free loopback port; returns its URL."""
    server = shutil.which('redis-server')
    if not server:
        sys.exit('redis-server is not installed (apt-get install redis-server) and no --broker was given.')
    port = free_port()
    spawn([server, '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
           '--dir', data_dir], os.path.join(data_dir, 'redis.log'))
    deadline = time.time() + 15
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            return 'redis://127.0.0.1:%d/0' % port
        except OSError:
            if time.time() > deadline:
                sys.exit('redis-server did not start; see %s/redis.log' % data_dir)
            time.sleep(0.1)


def start_worker(broker, data_dir):
    """A girder_worker (Celery) worker consuming from ``broker``; it talks to Girder over REST only. One job at a
    time, taken only when it is free (docs/scaling.md: how several workers share the queue fairly)."""
    env = dict(os.environ, GIRDER_WORKER_BROKER=broker, GIRDER_WORKER_BACKEND=broker, C_FORCE_ROOT='1')
    celery = os.path.join(os.path.dirname(sys.executable), 'celery')
    return spawn([celery, '-A', 'girder_worker.app', 'worker', '--loglevel', 'info', '--concurrency', '1',
                  '--prefetch-multiplier', '1', '-O', 'fair', '--disable-prefetch', '-n', 'demo@%h',
                  '--without-gossip', '--without-mingle'], os.path.join(data_dir, 'worker.log'), env)


def start_trainer(broker, data_dir):
    """The resident trainer (docs/api.md): its own queue, served by one worker process with a solo pool, so the
    features it keeps in memory live in one process across epochs and epochs never wait behind other jobs."""
    from girder.models.setting import Setting

    from histomics_label.settings import TRAINER_QUEUE

    Setting().set(TRAINER_QUEUE, 'histomics_label.trainer')
    env = dict(os.environ, GIRDER_WORKER_BROKER=broker, GIRDER_WORKER_BACKEND=broker, C_FORCE_ROOT='1')
    celery = os.path.join(os.path.dirname(sys.executable), 'celery')
    return spawn([celery, '-A', 'girder_worker.app', 'worker', '--loglevel', 'info', '-Q', 'histomics_label.trainer',
                  '--pool', 'solo', '--concurrency', '1', '-n', 'trainer@%h', '--without-gossip', '--without-mingle'],
                 os.path.join(data_dir, 'trainer.log'), env)


def lock_data_dir(data_dir):
    """Hold an exclusive lock on the data folder while the demo runs: the descriptor stays open until the
    process exits, however it exits, and is not inherited by the children."""
    fd = os.open(os.path.join(data_dir, 'demo.lock'), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit('Another demo is running on %s; stop it or give another --data-dir.' % data_dir)
    return fd


def open_embedded_db(args):
    """An in-process mongomock server filled from the last snapshot; returns its (not started) saver."""
    from histomics_label import embedded_store
    from histomics_label.embedded_db import use_mongomock

    server = use_mongomock()
    embedded_store.track_writes()
    path = os.path.join(args.data_dir, 'database.bson')
    if os.path.exists(path + '.tmp'):  # an unfinished save of a run that crashed; the snapshot is whole
        os.remove(path + '.tmp')
    if os.path.exists(path):
        try:
            collections, documents = embedded_store.load(server, path)
        except embedded_store.SnapshotError as exc:
            sys.exit('Cannot load the embedded database: %s.\nMove that file away to start with an empty '
                     'database.' % exc)
        print('Loaded the embedded database from %s (%d collections, %d documents).' % (
            path, collections, documents), flush=True)
    else:
        print('New embedded database; it will be saved to %s.' % path, flush=True)
    return embedded_store.PeriodicSaver(server, path, args.save_interval)


def configure_girder(args):
    """Database, logging and bind address, before Girder's server is set up; returns the embedded
    database's saver, or None with --mongo-uri."""
    import cherrypy

    saver = None if args.mongo_uri else open_embedded_db(args)
    cherrypy.config['database']['uri'] = args.mongo_uri or 'mongodb://127.0.0.1:27017/histomics_label_demo'
    cherrypy.config['server.socket_host'] = args.host
    cherrypy.config['server.socket_port'] = args.port
    cherrypy.config['logging'] = {'log_root': os.path.join(args.data_dir, 'logs')}
    return saver


def provision(args, broker):
    """Admin, assetstore, worker settings and the demo slide: created on the first start, found on later
    ones (the slide keeps its item id). With a private broker, jobs the last run left unfinished fail."""
    from girder.models.assetstore import Assetstore
    from girder.models.collection import Collection
    from girder.models.folder import Folder
    from girder.models.item import Item
    from girder.models.setting import Setting
    from girder.models.upload import Upload
    from girder.models.user import User
    from girder_large_image.models.image_item import ImageItem

    admin = User().findOne({'login': args.admin}) or User().createUser(
        args.admin, args.password, 'Demo', 'Admin', 'admin@histomics-label.invalid', admin=True)
    if not Assetstore().findOne({}):
        Assetstore().createFilesystemAssetstore('Demo assetstore', os.path.join(args.data_dir, 'assetstore'))
    Setting().set('worker.api_url', 'http://127.0.0.1:%d/api/v1' % args.port)
    Setting().set('worker.broker', broker)
    Setting().set('worker.backend', broker)
    if not args.broker:
        fail_interrupted_jobs()
    collection = Collection().findOne({'name': COLLECTION}) or Collection().createCollection(
        COLLECTION, admin, description='A demo study for Histomics Label', public=True)
    folder = Folder().createFolder(collection, FOLDER, parentType='collection', public=True, creator=admin,
                                   reuseExisting=True)
    name = os.path.basename(DEMO_SLIDE)
    item = Item().findOne({'folderId': folder['_id'], 'name': name})
    if item is None:
        with open(DEMO_SLIDE, 'rb') as f:
            file = Upload().uploadFromFile(f, os.path.getsize(DEMO_SLIDE), name, parentType='folder',
                                           parent=folder, user=admin)
        item = Item().load(file['itemId'], force=True)
    if 'largeImage' not in item:  # also when the last run stopped between the upload and this
        ImageItem().createImageItem(item, list(Item().childFiles(item, limit=1))[0], user=admin, createJob=False)
    return Item().load(item['_id'], force=True)


def fail_interrupted_jobs():
    """Jobs queued or running when the last run stopped can never finish (their queue was the private Redis):
    mark them failed, so that their slides show the error and can be run again."""
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job

    finished = [JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELED]
    for job in Job().find({'status': {'$nin': finished}}):
        try:
            if job['status'] == JobStatus.INACTIVE:
                job = Job().updateJob(job, status=JobStatus.QUEUED)
            Job().updateJob(job, status=JobStatus.ERROR,
                            log='InterruptedError: the demo stopped before this job finished; run it again.\n')
        except Exception as exc:  # one job that cannot be marked must not keep the demo from starting
            print('WARNING: could not mark the interrupted job %s (%s) failed: %r' % (
                job['_id'], job.get('title'), exc), file=sys.stderr, flush=True)


def save_on_exit(saver):
    """On a clean stop, after the server stopped serving: save what changed since the last periodic save."""
    import cherrypy

    def save():
        try:
            saver.stop()
            print('Embedded database saved to %s.' % saver.path, flush=True)
        except Exception as exc:
            saver.last_error = exc
            print('SAVING THE EMBEDDED DATABASE FAILED (%r): %s still holds the last periodic save.' % (
                exc, saver.path), file=sys.stderr, flush=True)

    cherrypy.engine.subscribe('exit', save, priority=40)


def main(argv=None):
    args = parse_args(argv)
    args.data_dir = os.path.abspath(args.data_dir)
    os.makedirs(args.data_dir, exist_ok=True)
    lock_data_dir(args.data_dir)
    os.environ['GIRDER_WORKER_BROKER'] = os.environ['GIRDER_WORKER_BACKEND'] = broker = (
        args.broker or start_redis(args.data_dir))
    atexit.register(stop_children)
    saver = configure_girder(args)

    import cherrypy
    from girder import _attachFileLogHandlers
    from girder.utility import server

    _attachFileLogHandlers()
    server.setup('production')
    slide = provision(args, broker)
    if not args.no_worker:
        start_worker(broker, args.data_dir)
        start_trainer(broker, args.data_dir)
    if saver:
        saver.save_if_changed()  # the provisioned ids (the demo slide's) are on disk before anyone sees them
        saver.start()
        save_on_exit(saver)
    cherrypy.engine.subscribe('exit', stop_children)
    cherrypy.engine.signal_handler.subscribe()
    cherrypy.engine.start()
    url = 'http://%s:%d' % (args.host, args.port)
    if args.mongo_uri:
        print('\nHistomics Label demo is running (MongoDB database).', flush=True)
    else:
        print('\nHistomics Label demo is running (EMBEDDED database: single-process demo storage, saved every '
              '%g s and on Ctrl-C; a real site uses MongoDB, see --mongo-uri).' % args.save_interval, flush=True)
    print('  Girder:      %s/' % url)
    print('  HistomicsUI: %s/histomics#?image=%s' % (url, slide['_id']))
    print('  Our page:    %s/histomics#histomics-label' % url)
    print('  Login:       %s / %s' % (args.admin, args.password))
    print('  Data:        %s (%sfiles, logs)' % (args.data_dir, '' if args.mongo_uri else 'database.bson, '))
    print('Press Ctrl-C to stop.', flush=True)
    signal.signal(signal.SIGINT, _on_ctrl_c)
    cherrypy.engine.block()
    if saver and saver.last_error:
        sys.exit(1)


if __name__ == '__main__':
    main()
