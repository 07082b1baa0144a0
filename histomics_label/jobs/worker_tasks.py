"""girder_worker (Celery) task that runs one of our CLIs next to the worker, without Docker: the local
executor. Like slicer_cli_web's Docker jobs it fills in the worker's API URL and the job's token for the CLI
(which then does its own Girder I/O in Girder mode), streams the CLI's log and progress to the Girder job,
and fails the job with the CLI's error output when it exits non-zero.
"""
from girder_worker.app import app

from .cli_runner import run_cli_subprocess

#: argument placeholders the task fills in with the worker's Girder API URL and the job's token
GIRDER_API_URL, GIRDER_TOKEN = {'girderApiUrl': True}, {'girderToken': True}


def _resolve(argument, client):
    """A command-line token: a string, or the worker's API URL / the job's token for a placeholder."""
    if argument == GIRDER_API_URL:
        return client.urlBase
    if argument == GIRDER_TOKEN:
        return client.token
    if isinstance(argument, dict):
        raise ValueError('Unknown CLI argument spec: %r' % (argument,))
    return str(argument)


@app.task(bind=True)
def run_cli(self, name, arguments):
    """Run CLI ``name`` with ``arguments``: strings, or the placeholders ``GIRDER_API_URL`` /
    ``GIRDER_TOKEN`` for the worker's API URL and the job's token."""
    manager = getattr(self, 'job_manager', None)
    client = getattr(self, 'girder_client', None)
    argv = [_resolve(argument, client) for argument in arguments]

    def log(line):
        if manager:
            manager.write(line + '\n')

    def progress(fraction, message):
        if manager:
            manager.updateProgress(total=100, current=round(100 * fraction, 1), message=message)

    log('Running %s %s' % (name, ' '.join('<token>' if arg == getattr(client, 'token', None) else arg
                                          for arg in argv)))
    run_cli_subprocess(name, argv, on_log=log, on_progress=progress)
