"""girder_worker (Celery) task that runs one of our CLIs next to the worker, without Docker.

It mirrors what slicer_cli_web does with a Docker image: Girder files named in the arguments are
downloaded, the CLI runs, then its outputs go back to Girder: files are uploaded into a folder with a
``reference`` (as slicer_cli_web does), annotation files are posted onto their item (a pixelmap's
``girderId`` naming an uploaded output is replaced by that item's id), and finally an optional callback
endpoint of ours is told where everything went.
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
    elif 'inputFiles' in argument:  # a directory input: several Girder files under their given names
        os.makedirs(path)
        for entry in argument['inputFiles']:
            client.downloadFile(entry['fileId'], os.path.join(path, os.path.basename(entry['name'])))
    elif 'annotationItemId' in argument or 'outputFolderId' in argument:
        outputs.append((path, argument))
    else:
        raise ValueError('Unknown CLI argument spec: %r' % (argument,))
    return path


def _upload_file(client, path, spec):
    reference = dict(spec.get('reference') or {}, identifier=spec['identifier'])
    with open(path, 'rb') as stream:
        file = client.uploadFile(spec['outputFolderId'], stream, os.path.basename(spec['name']),
                                 os.path.getsize(path), parentType='folder', reference=json.dumps(reference))
    return {'itemId': file['itemId'], 'fileId': file['_id']}


def _post_annotations(client, path, spec, uploaded):
    with open(path) as f:
        annotations = json.load(f)
    created = []
    for annotation in annotations if isinstance(annotations, list) else [annotations]:
        for element in annotation.get('elements', []):
            if element.get('girderId') in uploaded:
                element['girderId'] = uploaded[element['girderId']]['itemId']
        created.append(client.post('annotation', parameters={'itemId': spec['annotationItemId']},
                                   data=json.dumps(annotation))['_id'])
    return {'annotationIds': created}


def _send_outputs(client, outputs):
    """Files first (annotations may point at them), then annotations; returns identifier -> ids."""
    uploaded = {}
    for path, spec in sorted(outputs, key=lambda output: 'annotationItemId' in output[1]):
        if not os.path.exists(path):
            raise FileNotFoundError('The CLI did not write its output %s' % spec['name'])
        if 'annotationItemId' in spec:
            uploaded[spec.get('identifier', spec['name'])] = _post_annotations(client, path, spec, uploaded)
        else:
            uploaded[spec['identifier']] = _upload_file(client, path, spec)
    return uploaded


@app.task(bind=True)
def run_cli(self, name, arguments, callback=None):
    """Run CLI ``name`` with ``arguments``: strings, or dicts naming a Girder input
    ``{'inputFileId', 'name'}``, a directory of inputs ``{'inputFiles': [{'fileId', 'name'}], 'name'}``, an
    annotation output ``{'annotationItemId', 'name', 'identifier'}`` or a file output
    ``{'outputFolderId', 'name', 'identifier', 'reference'}``. ``callback`` is an optional
    ``{'path', 'params', 'fromOutputs'}``: POSTed with ``outputs`` (JSON of identifier -> ids) once all
    outputs are sent, plus each ``fromOutputs`` parameter taken from an output (``'identifier.field'``)."""
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
        uploaded = _send_outputs(client, outputs)
        log('Sent outputs: %s' % ', '.join(sorted(uploaded)))
        if callback:
            params = dict(callback.get('params') or {}, outputs=json.dumps(uploaded))
            for param, source in (callback.get('fromOutputs') or {}).items():
                identifier, field = source.split('.')
                params[param] = uploaded[identifier][field]
            client.post(callback['path'], parameters=params)
            log('Reported to %s' % callback['path'])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
