"""Girder for the benchmarks: its models on an embedded (mongomock) database or a MongoDB, the whole server in
this process on a port, or the demo (``devops/serve.py``) in a child process; and the end of every run (print
the figures, write them as JSON)."""
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_arguments(parser):
    """The options every in-process benchmark takes: --mongo-uri and --json."""
    parser.add_argument('--mongo-uri', help='a real MongoDB (default: embedded mongomock)')
    parser.add_argument('--json', help='also write the results here')


def database_label(uri):
    return 'MongoDB' if uri else 'embedded mongomock'


def connect(uri=None, database='histomics_label_bench'):
    """Point Girder's models at ``uri``, or at an embedded mongomock database named ``database``."""
    if not uri:
        from histomics_label.embedded_db import use_mongomock

        use_mongomock()
    import cherrypy

    cherrypy.config['database']['uri'] = uri or 'mongodb://127.0.0.1:27017/' + database


def serve(port, workdir, uri=None, database='histomics_label_bench'):
    """Girder with every installed plugin in this process on 127.0.0.1:``port`` (Girder's errors in
    ``workdir``/logs/error.log, no access log); returns the API URL. :func:`stop` ends it."""
    connect(uri, database)
    import cherrypy
    from girder import _attachFileLogHandlers
    from girder.utility import server

    cherrypy.config.update({'server.socket_host': '127.0.0.1', 'server.socket_port': port,
                            'logging': {'log_root': os.path.join(workdir, 'logs')}})
    _attachFileLogHandlers()
    server.setup('production')
    cherrypy.config.update({'log.screen': False, 'log.access_file': '', 'engine.autoreload.on': False})
    cherrypy.log.access_log.propagate = False
    cherrypy.engine.start()
    return 'http://127.0.0.1:%d/api/v1' % port


def stop():
    import cherrypy

    cherrypy.engine.exit()


def synthetic_project(creator, name, slides, per_slide, categories):
    """A project on a new collection's folder of ``slides`` slide items without an image, each segmented and
    featurized into ``per_slide`` superpixels (in the database only), and ``categories`` categories 'Class i';
    returns ``(project, categories, slide documents)``."""
    from girder.models.collection import Collection
    from girder.models.folder import Folder
    from girder.models.item import Item

    from histomics_label.models.category import Category
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide

    collection = Collection().createCollection('Bench %s %s' % (name, time.time()), creator)
    folder = Folder().createFolder(collection, 'Slides', parentType='collection', creator=creator)
    project = Project().create(folder, creator, name)
    documents = []
    for index in range(slides):
        item = Item().createItem('slide %d' % index, creator, folder)
        documents.append(ProjectSlide().save({
            'projectId': project['_id'], 'itemId': item['_id'], 'name': item['name'], 'index': index,
            'superpixelCount': per_slide, 'epoch': None, 'segmentation': {'status': 'done'},
            'features': {'status': 'done'}}))
    return project, [Category().create(project, 'Class %d' % i) for i in range(categories)], documents


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_job(client, job_id, timeout=180, poll=0.5):
    """The job as ``GET job/{id}`` gives it once it succeeded, failed or was canceled (through ``client``, a
    girder_client); TimeoutError after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get('job/%s' % job_id)
        if job['status'] in (3, 4, 5):
            return job
        time.sleep(poll)
    raise TimeoutError('job %s did not finish in %d s' % (job_id, timeout))


@contextlib.contextmanager
def demo(port, data_dir, *options, timeout=180):
    """``devops/serve.py`` on ``port`` with its data in ``data_dir``/demo and its output in
    ``data_dir``/serve.log, from when it serves (else exit with the log's tail) until Ctrl-C stops it; children
    it leaves running (its Redis, its Celery worker) are killed then."""
    import psutil

    log_path = os.path.join(data_dir, 'serve.log')
    with open(log_path, 'w') as log:
        process = subprocess.Popen(
            [sys.executable, os.path.join(REPO, 'devops', 'serve.py'), '--port', str(port), *options,
             '--data-dir', os.path.join(data_dir, 'demo')], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + timeout
        while 'Press Ctrl-C to stop.' not in open(log_path).read():
            if process.poll() is not None or time.time() > deadline:
                raise SystemExit('the demo did not start:\n' + open(log_path).read()[-3000:])
            time.sleep(0.5)
        yield process
    finally:
        children = psutil.Process(process.pid).children(recursive=True) if process.poll() is None else []
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        for child in psutil.wait_procs(children, timeout=15)[1]:
            child.kill()


def report(result, path=None):
    """Print ``result`` one figure a line; also write it to ``path`` as JSON when given."""
    width = max(map(len, result))
    for key, value in result.items():
        print('%-*s %s' % (width, key, value))
    if path:
        with open(path, 'w') as f:
            json.dump(result, f, indent=2)
