"""Girder-side launcher: turns a CLI run into a Girder job executed by the girder_worker (Celery) worker.

On a DSA site with Docker the same CLIs are also registered through slicer_cli_web from our image
(see docs/dsa-install.md); this launcher is the local executor used where there is no Docker.
"""
import uuid

from girder.exceptions import RestException
from girder.models.token import Token
from girder_jobs.constants import JobStatus
from girder_jobs.models.job import Job

from .cli_catalog import cli_script

JOB_TYPE_PREFIX = 'histomics_label.'
#: keep the REST request short when the broker is down instead of retrying for minutes
_PUBLISH_RETRY = {'max_retries': 2, 'interval_start': 0, 'interval_step': 0.5, 'interval_max': 1}


def launch_cli(name, arguments, user, title, details=None, callback=None):
    """Queue CLI ``name`` for ``user`` and return the Girder job document; ``callback`` is an endpoint
    of ours (``{'path', 'params'}``) the worker POSTs the outputs' ids to when the CLI succeeded.

    Raises a 503 RestException (and records the error on the job) if the broker cannot be reached.
    """
    from .worker_tasks import run_cli

    cli_script(name)
    token = Token().createToken(user=user, days=7)
    task_id = str(uuid.uuid4())
    try:
        result = run_cli.apply_async(
            args=(name, arguments), kwargs={'callback': callback}, task_id=task_id, retry=True,
            retry_policy=_PUBLISH_RETRY,
            girder_job_title=title, girder_job_type=JOB_TYPE_PREFIX + name,
            girder_client_token=str(token['_id']),
            girder_job_other_fields={'histomicsLabel': dict(details or {}, cli=name)})
    except Exception as exc:
        _fail_unqueued_job(task_id, exc)
        raise RestException('The job queue is unreachable (%s); is the worker broker running?' % exc,
                            code=503)
    return result.job


def _fail_unqueued_job(task_id, exc):
    """Mark a job whose message never reached the broker as failed, with the reason in its log.

    (Written directly: the worker plugin allows no INACTIVE -> ERROR transition, but this job never ran.)"""
    Job().update({'celeryTaskId': task_id}, {
        '$set': {'status': JobStatus.ERROR}, '$push': {'log': 'Could not queue the job: %s\n' % exc}})
