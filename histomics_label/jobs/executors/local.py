"""The local executor: a girder_worker (Celery) task, ``worker_tasks.run_cli``, runs the CLI as a subprocess
of the worker, filling in the worker's API URL and the job's token."""
from girder.models.token import Token

from ..cli_catalog import cli_longflags
from ..worker_tasks import GIRDER_API_URL, GIRDER_TOKEN, run_cli
from .base import Executor, failing_unqueued_jobs

JOB_TYPE_PREFIX = 'histomics_label.'
#: keep the REST request short when the broker is down instead of retrying for minutes
_PUBLISH_RETRY = {'max_retries': 2, 'interval_start': 0, 'interval_step': 0.5, 'interval_max': 1}


class LocalExecutor(Executor):
    def launch(self, name, parameters, user, title, details):
        flags = cli_longflags(name)
        arguments = ['--api-url', GIRDER_API_URL, '--girder-token', GIRDER_TOKEN]
        for parameter, value in parameters.items():
            arguments += [flags[parameter], str(value)]
        token = Token().createToken(user=user, days=7)
        with failing_unqueued_jobs(title, details):
            result = run_cli.apply_async(
                args=(name, arguments), retry=True, retry_policy=_PUBLISH_RETRY,
                girder_job_title=title, girder_job_type=JOB_TYPE_PREFIX + name,
                girder_client_token=str(token['_id']), girder_job_other_fields={'histomicsLabel': details})
        return result.job
