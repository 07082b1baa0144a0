"""The executor interface, and what every executor does when a job's message cannot be queued: exactly the
job created for that message is failed with the reason, and a broker error becomes a 503."""
import abc
import contextlib
import threading

from celery.signals import after_task_publish, before_task_publish
from girder.exceptions import RestException
from girder_jobs.constants import JobStatus
from girder_jobs.models.job import Job
from kombu.exceptions import OperationalError

#: ``unsent``: Celery task ids of the messages this thread is publishing inside ``failing_unqueued_jobs``
_publishing = threading.local()


class Executor(abc.ABC):
    """Runs one of our CLIs in Girder mode (ids, settings, API URL and token) as a Girder job."""

    @abc.abstractmethod
    def launch(self, name, parameters, user, title, details):
        """Queue CLI ``name`` with ``parameters`` (CLI parameter name -> value) for ``user``; return the Girder
        job, titled ``title``, whose ``histomicsLabel`` field holds ``details``."""


@before_task_publish.connect(weak=False, dispatch_uid='histomics_label.jobs.executors.before_publish')
def _before_publish(headers=None, **kwargs):
    unsent = getattr(_publishing, 'unsent', None)
    if unsent is not None:
        unsent.add(headers['id'])


@after_task_publish.connect(weak=False, dispatch_uid='histomics_label.jobs.executors.after_publish')
def _after_publish(headers=None, **kwargs):
    unsent = getattr(_publishing, 'unsent', None)
    if unsent is not None:
        unsent.discard(headers['id'])


@contextlib.contextmanager
def failing_unqueued_jobs(title, details):
    """Publish a job's message inside. If that raises, the jobs girder_worker created for messages this thread
    began but did not finish publishing (it creates the job before the message reaches the broker, keyed by
    the Celery task id) are marked failed, with the reason in their log; a broker error is re-raised as a 503.

    (Written directly: the worker plugin allows no INACTIVE -> ERROR transition, but these jobs never ran.)"""
    previous, _publishing.unsent = getattr(_publishing, 'unsent', None), set()
    try:
        yield
    except Exception as exc:
        if _publishing.unsent:
            Job().update({'celeryTaskId': {'$in': sorted(_publishing.unsent)}, 'status': JobStatus.INACTIVE}, {
                '$set': {'status': JobStatus.ERROR, 'title': title, 'histomicsLabel': details},
                '$push': {'log': 'Could not queue the job: %s\n' % exc}})
        if isinstance(exc, OperationalError):
            raise RestException('The job queue is unreachable (%s); is the worker broker running?' % exc,
                                code=503) from exc
        raise
    finally:
        _publishing.unsent = previous
