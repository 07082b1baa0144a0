"""girder_worker (Celery) task that runs one of our CLIs next to the worker, without Docker.

It mirrors what slicer_cli_web does with a Docker image: Girder files named in the arguments are
downloaded, the CLI runs, then its outputs go back to Girder: annotation files are posted as annotations
on their item, other files are uploaded into a folder with a ``reference`` (as slicer_cli_web does).
"""
import json
import os
import shutil
import tempfile

from girder_worker.app import app

from .cli_runner import run_cli_subprocess


def _resolve(argument, workdir, client, outputs):
    """Turn one argument spec into a command-line token (downloading inputs, planning outputs)."""
    if not isinstance(argument, dict):
        return str(argument)
    path = os.path.join(workdir, os.path.basename(argument['name']))
    if 'inputFileId' in argument:
        client.downloadFile(argument['inputFileId'], path)
    elif 'annotationItemId' in argument or 'outputFolderId' in argument:
        outputs.append((path, argument))
    else:
        raise ValueError('Unknown CLI argument spec: %r' % (argument,))
    return path


def _upload(client, path, spec):
    """Send one output back: annotations onto their item, other files into a folder."""
    if not os.path.exists(path):
        raise FileNotFoundError('The CLI did not write its output %s' % spec['name'])
    if 'annotationItemId' in spec:
        with open(path) as f:
            annotations = json.load(f)
        for annotation in annotations if isinstance(annotations, list) else [annotations]:
            client.post('annotation', parameters={'itemId': spec['annotationItemId']},
                        data=json.dumps(annotation))
        return
    reference = dict(spec.get('reference') or {}, identifier=spec.get('identifier', spec['name']))
    with open(path, 'rb') as stream:
        client.uploadFile(spec['outputFolderId'], stream, os.path.basename(spec['name']),
                          os.path.getsize(path), parentType='folder', reference=json.dumps(reference))


@app.task(bind=True)
def run_cli(self, name, arguments):
    """Run CLI ``name`` with ``arguments``: strings, or dicts naming a Girder input
    ``{'inputFileId', 'name'}``, an annotation output ``{'annotationItemId', 'name'}`` or a file output
    ``{'outputFolderId', 'name', 'identifier', 'reference'}``."""
    manager = getattr(self, 'job_manager', None)
    client = getattr(self, 'girder_client', None)
    workdir = tempfile.mkdtemp(prefix='histomics_label_')
    try:
        outputs = []
        argv = [_resolve(argument, workdir, client, outputs) for argument in arguments]

        def log(line):
            if manager:
                manager.write(line + '\n')

        def progress(fraction, message):
            if manager:
                manager.updateProgress(total=100, current=round(100 * fraction, 1), message=message)

        log('Running %s %s' % (name, ' '.join(argv)))
        run_cli_subprocess(name, argv, on_log=log, on_progress=progress)
        for path, spec in outputs:
            _upload(client, path, spec)
            log('Uploaded %s' % spec['name'])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
