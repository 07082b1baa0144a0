"""girder_worker (Celery) task that runs one of our CLIs next to the worker, without Docker.

It mirrors what slicer_cli_web does with a Docker image: Girder files named in the arguments are
downloaded, the API URL and the job's token are filled in where asked for (CLIs in Girder mode), the CLI
runs, then its outputs go back to Girder (files into a folder with a ``reference``, annotation files onto
their item; see ``histomics_label.girder_io``).
"""
import os
import shutil
import tempfile

from girder_worker.app import app

from ..girder_io import download, send_outputs
from .cli_runner import run_cli_subprocess


def _resolve(argument, workdir, client, outputs):
    """Turn one argument spec into a command-line token (downloading inputs, planning outputs)."""
    if not isinstance(argument, dict):
        return str(argument)
    if argument.get('girderApiUrl'):
        return client.urlBase
    if argument.get('girderToken'):
        return client.token
    if 'inputFileId' in argument:
        return download(client, {'fileId': argument['inputFileId'], 'name': argument['name']}, workdir)
    if 'annotationItemId' in argument or 'outputFolderId' in argument:
        path = os.path.join(workdir, os.path.basename(argument['name']))
        outputs.append((path, argument))
        return path
    raise ValueError('Unknown CLI argument spec: %r' % (argument,))


@app.task(bind=True)
def run_cli(self, name, arguments):
    """Run CLI ``name`` with ``arguments``: strings, or dicts naming a Girder input ``{'inputFileId', 'name'}``,
    an annotation output ``{'annotationItemId', 'name', 'identifier'}``, a file output
    ``{'outputFolderId', 'name', 'identifier', 'reference'}``, or ``{'girderApiUrl': True}`` /
    ``{'girderToken': True}`` for the worker's API URL and the job's token."""
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

        shown = ['<token>' if argument == getattr(client, 'token', None) else argument for argument in argv]
        log('Running %s %s' % (name, ' '.join(shown)))
        run_cli_subprocess(name, argv, on_log=log, on_progress=progress)
        if outputs:
            log('Sent outputs: %s' % ', '.join(sorted(send_outputs(client, outputs))))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
