"""Girder for the benchmarks: its models on an embedded (mongomock) database or a MongoDB, the whole server in
this process on a port, or the demo (``devops/serve.py``) in a child process; and the end of every run (print
the figures, write them as JSON)."""
import json
import os
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


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_demo(port, data_dir, *options, timeout=180):
    """``devops/serve.py`` on ``port`` with its data in ``data_dir``/demo and its output in
    ``data_dir``/serve.log; returns the process once it serves (exits with the log's tail if it does not)."""
    log_path = os.path.join(data_dir, 'serve.log')
    with open(log_path, 'w') as log:
        process = subprocess.Popen(
            [sys.executable, os.path.join(REPO, 'devops', 'serve.py'), '--port', str(port), *options,
             '--data-dir', os.path.join(data_dir, 'demo')], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while 'Press Ctrl-C to stop.' not in open(log_path).read():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise SystemExit('the demo did not start:\n' + open(log_path).read()[-3000:])
        time.sleep(0.5)
    return process


def report(result, path=None):
    """Print ``result`` one figure a line; also write it to ``path`` as JSON when given."""
    width = max(map(len, result))
    for key, value in result.items():
        print('%-*s %s' % (width, key, value))
    if path:
        with open(path, 'w') as f:
            json.dump(result, f, indent=2)
