"""Girder-side launcher: turn a CLI run into a Girder job.

Every job runs one of our CLIs in Girder mode: it gets ids and settings plus the API URL and a token, and
does its own I/O. The site chooses the executor: the CLI image registered in slicer_cli_web when the
``histomics_label.cli_image`` setting names one (Docker on a DSA site), else the local executor, a
girder_worker (Celery) task that runs the CLI as a subprocess of the worker.
"""
import uuid

from girder.exceptions import RestException
from girder.models.setting import Setting
from girder.models.token import Token
from girder_jobs.constants import JobStatus
from girder_jobs.models.job import Job

from ..settings import CLI_IMAGE
from .cli_catalog import cli_longflags, cli_script

JOB_TYPE_PREFIX = 'histomics_label.'
#: keep the REST request short when the broker is down instead of retrying for minutes
_PUBLISH_RETRY = {'max_retries': 2, 'interval_start': 0, 'interval_step': 0.5, 'interval_max': 1}
#: argument placeholders the worker fills in with its Girder API URL and the job's token
GIRDER_API_URL, GIRDER_TOKEN = {'girderApiUrl': True}, {'girderToken': True}


def _launch_local(name, arguments, user, title, details):
    """Queue CLI ``name`` with ``arguments`` for ``user`` on the local executor; returns the Girder job.

    Raises a 503 RestException (and records the error on the job) if the broker cannot be reached.
    """
    from .worker_tasks import run_cli

    cli_script(name)
    token = Token().createToken(user=user, days=7)
    task_id = str(uuid.uuid4())
    try:
        result = run_cli.apply_async(
            args=(name, arguments), task_id=task_id, retry=True, retry_policy=_PUBLISH_RETRY,
            girder_job_title=title, girder_job_type=JOB_TYPE_PREFIX + name,
            girder_client_token=str(token['_id']),
            girder_job_other_fields={'histomicsLabel': dict(details, cli=name)})
    except Exception as exc:
        fail_unqueued_job({'celeryTaskId': task_id}, exc)
        raise unreachable_queue(exc)
    return result.job


def launch_cli(name, parameters, user, title, details):
    """Run CLI ``name`` in Girder mode with ``parameters`` (CLI parameter name -> value) for ``user``, on the
    configured executor. Returns the Girder job; its ``histomicsLabel`` field holds ``details``."""
    image = Setting().get(CLI_IMAGE)
    if image:
        from .slicer_cli_dispatch import dispatch

        return dispatch(image, name, parameters, user, title, dict(details, cli=name))
    flags = cli_longflags(name)
    arguments = ['--api-url', GIRDER_API_URL, '--girder-token', GIRDER_TOKEN]
    for parameter, value in parameters.items():
        arguments += [flags[parameter], str(value)]
    return _launch_local(name, arguments, user, title, details)


def unreachable_queue(exc):
    return RestException('The job queue is unreachable (%s); is the worker broker running?' % exc, code=503)


def fail_unqueued_job(query, exc):
    """Mark a job whose message never reached the broker as failed, with the reason in its log.

    (Written directly: the worker plugin allows no INACTIVE -> ERROR transition, but this job never ran.)"""
    Job().update(query, {'$set': {'status': JobStatus.ERROR}, '$push': {'log': 'Could not queue the job: %s\n' % exc}})
