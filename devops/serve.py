#!/usr/bin/env python
"""Run the Histomics Label demo: Girder + HistomicsUI + our plugin, a Redis broker and a Celery worker.

By default the database is EMBEDDED: an in-process mongomock that is NOT persistent (everything but the
uploaded files in --data-dir is lost when this stops). Give --mongo-uri to use a real MongoDB instead.
The demo provisions an admin, a filesystem assetstore and a collection "Histomics Label Demo" whose
folder "Slides" holds CMU-1-Small-Region.svs as a large image. Ctrl-C stops everything it started.
"""
import argparse
import atexit
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=int(os.environ.get('HISTOMICS_LABEL_PORT', 8080)))
    parser.add_argument('--mongo-uri', default=os.environ.get('HISTOMICS_LABEL_MONGO_URI'),
                        help='a real MongoDB, e.g. mongodb://127.0.0.1:27017/girder (default: embedded)')
    parser.add_argument('--broker', default=os.environ.get('HISTOMICS_LABEL_BROKER'),
                        help='an existing Celery broker URL (default: start a private redis-server)')
    parser.add_argument('--data-dir', default=os.path.join(os.path.dirname(HERE), '.demo'))
    parser.add_argument('--admin', default='admin')
    parser.add_argument('--password', default='histomics')
    parser.add_argument('--no-worker', action='store_true', help='do not start a Celery worker')
    return parser.parse_args(argv)


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
                               cwd=os.path.dirname(log_path))
    _children.append(process)
    return process


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
    """A girder_worker (Celery) worker consuming from ``broker``; it talks to Girder over REST only."""
    env = dict(os.environ, GIRDER_WORKER_BROKER=broker, GIRDER_WORKER_BACKEND=broker, C_FORCE_ROOT='1')
    celery = os.path.join(os.path.dirname(sys.executable), 'celery')
    return spawn([celery, '-A', 'girder_worker.app', 'worker', '--loglevel', 'info', '--concurrency', '1',
                  '--without-gossip', '--without-mingle'], os.path.join(data_dir, 'worker.log'), env)


def configure_girder(args):
    """Database, logging and bind address, before Girder's server is set up."""
    import cherrypy

    if not args.mongo_uri:
        from histomics_label.embedded_db import use_mongomock

        use_mongomock()
    cherrypy.config['database']['uri'] = args.mongo_uri or 'mongodb://127.0.0.1:27017/histomics_label_demo'
    cherrypy.config['server.socket_host'] = args.host
    cherrypy.config['server.socket_port'] = args.port
    cherrypy.config['logging'] = {'log_root': os.path.join(args.data_dir, 'logs')}


def provision(args, broker):
    """Admin, assetstore, worker settings and the demo slide; idempotent on a persistent database."""
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
        if 'largeImage' not in item:
            ImageItem().createImageItem(item, file, user=admin, createJob=False)
    return Item().load(item['_id'], force=True)


def main(argv=None):
    args = parse_args(argv)
    args.data_dir = os.path.abspath(args.data_dir)
    os.makedirs(args.data_dir, exist_ok=True)
    os.environ['GIRDER_WORKER_BROKER'] = os.environ['GIRDER_WORKER_BACKEND'] = broker = (
        args.broker or start_redis(args.data_dir))
    atexit.register(stop_children)
    configure_girder(args)

    import cherrypy
    from girder import _attachFileLogHandlers
    from girder.utility import server

    _attachFileLogHandlers()
    server.setup('production')
    slide = provision(args, broker)
    if not args.no_worker:
        start_worker(broker, args.data_dir)
    cherrypy.engine.subscribe('exit', stop_children)
    cherrypy.engine.signal_handler.subscribe()
    cherrypy.engine.start()
    url = 'http://%s:%d' % (args.host, args.port)
    print('\nHistomics Label demo is running (%s database%s).' % (
        'MongoDB' if args.mongo_uri else 'EMBEDDED, non-persistent',
        '' if args.mongo_uri else ': all data is lost when it stops'), flush=True)
    print('  Girder:      %s/' % url)
    print('  HistomicsUI: %s/histomics#?image=%s' % (url, slide['_id']))
    print('  Our page:    %s/histomics#histomics-label' % url)
    print('  Login:       %s / %s' % (args.admin, args.password))
    print('  Logs:        %s' % args.data_dir)
    print('Press Ctrl-C to stop.', flush=True)
    signal.signal(signal.SIGINT, _on_ctrl_c)
    cherrypy.engine.block()


if __name__ == '__main__':
    main()
