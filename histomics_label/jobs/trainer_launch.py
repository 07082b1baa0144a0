"""Server side of training epochs: when a trigger starts one, coalescing triggers that arrive while one runs,
and queueing epochs on the resident trainer (``jobs/trainer.py``).

A trigger (``retrainInterval`` label changes, or ``POST project/{id}/train``) starts an epoch when none is
running. While one runs it only sets ``training.followUp`` on the project: however many triggers arrive, the
run's end (its job succeeding, failing or being canceled) starts exactly one follow-up epoch, on the labels as
they are then. A running epoch whose job ended without reporting, or whose resident trainer job has not been
heard of for ``STALE_AFTER`` seconds (its worker died), no longer holds triggers back: the next trigger marks
it failed and starts anew. Label writes never wait for any of this.

The functions that start an epoch take ``launch(project, user)`` (``pipeline.launch_training``) as an argument,
so that this module does not import the pipeline that imports it.
"""
import datetime

from bson import ObjectId
from girder import logger
from girder.exceptions import ValidationException
from girder.models.setting import Setting
from girder.models.token import Token
from girder.models.user import User
from girder_jobs.constants import JobStatus
from girder_jobs.models.job import Job

from ..models.project import Project
from ..models.states import TrainingStatus
from ..settings import RESIDENT_TRAINER, TRAINER_CACHE_BYTES, TRAINER_CACHE_DTYPE, TRAINER_QUEUE
from .executors.base import failing_unqueued_jobs
from .trainer import MC_SAMPLES, train_epoch

FOLLOW_UP = 'training.followUp'
#: a resident trainer job silent (no status, progress or log update) for this long is taken for dead
STALE_AFTER = 300
ENDED = (JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELED)
JOB_TYPE = 'histomics_label.resident_trainer'
#: keep the REST request short when the broker is down instead of retrying for minutes
_PUBLISH_RETRY = {'max_retries': 2, 'interval_start': 0, 'interval_step': 0.5, 'interval_max': 1}


def uses_resident_trainer(project):
    """Embedding projects train on the resident trainer unless the site turned it off."""
    return project['settings']['featureKind'] == 'embedding' and bool(Setting().get(RESIDENT_TRAINER))


def launch_resident(project, epoch, user):
    """Queue epoch ``epoch`` (reserved, its manifest stored) on the resident trainer as a Girder job."""
    title = 'Train epoch %d: %s' % (epoch, project['name'])
    details = {'projectId': str(project['_id']), 'stage': 'training', 'epoch': epoch, 'trainer': 'resident'}
    options = {'mcSamples': MC_SAMPLES, 'cacheBytes': int(Setting().get(TRAINER_CACHE_BYTES)),
               'cacheDtype': Setting().get(TRAINER_CACHE_DTYPE)}
    token = Token().createToken(user=user, days=1)
    with failing_unqueued_jobs(title, details):
        result = train_epoch.apply_async(
            args=(str(project['_id']), epoch, options), queue=Setting().get(TRAINER_QUEUE) or None, retry=True,
            retry_policy=_PUBLISH_RETRY, girder_job_title=title, girder_job_type=JOB_TYPE,
            girder_client_token=str(token['_id']), girder_job_other_fields={'histomicsLabel': details})
    return result.job


def request_training(project, user, launch):
    """Start an epoch now, or make sure one follows the running one. Returns ``(job, started)``: the new
    job, or the running one when the trigger was coalesced into its follow-up."""
    running = Project().collection.find_one_and_update(
        {'_id': project['_id'], 'training.status': TrainingStatus.RUNNING}, {'$set': {FOLLOW_UP: True}},
        return_document=True)
    if running is not None:
        job = Job().load(running['training']['jobId'], force=True) if running['training'].get('jobId') else None
        if not _stale(running['training'], job):
            return job, False
        _fail_stale(running, job)
    return launch(Project().load(project['_id'], force=True), user), True


def _stale(training, job):
    """Whether the running ``training`` can no longer finish: its job ended (without reporting), or it is
    a resident trainer job silent for ``STALE_AFTER`` seconds, or it has no job (an epoch reserved through
    ``POST project/{id}/epoch``, or whose job is gone) and started more than ``STALE_AFTER`` seconds ago."""
    if job is None:
        started = training.get('started')
        return started is not None and _age(started) > STALE_AFTER
    if job['status'] in ENDED:
        return True
    resident = (job.get('histomicsLabel') or {}).get('trainer') == 'resident'
    return resident and _age(job.get('updated') or job['created']) > STALE_AFTER


def _age(when):
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return (datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()


def _fail_stale(project, job):
    """Record the stale epoch as failed (labels untouched) and cancel its job if it is still listed as live."""
    training = project['training']
    Project().move_training(project['_id'], training['epoch'], TrainingStatus.ERROR, followUp=False,
                            error='The trainer stopped responding (its worker may have restarted); a new epoch '
                                  'was started.')
    if job is not None and job['status'] not in ENDED:
        try:
            Job().cancelJob(job)
        except Exception:  # a job that cannot move to canceled any more changes nothing here
            pass


def start_follow_up(job, launch):
    """When a training job ended and triggers arrived during its run, start their one follow-up epoch (as
    the job's user). Returns the new job or None."""
    details = job.get('histomicsLabel') or {}
    if details.get('stage') != 'training' or job['status'] not in ENDED or 'epoch' not in details:
        return None
    project = Project().collection.find_one_and_update(
        {'_id': ObjectId(details['projectId']), 'training.epoch': details['epoch'], FOLLOW_UP: True,
         'training.status': {'$ne': TrainingStatus.RUNNING}}, {'$set': {FOLLOW_UP: False}})
    user = User().load(job['userId'], force=True) if project is not None and job.get('userId') else None
    if user is None:
        return None
    try:
        return launch(Project().load(project['_id'], force=True), user)
    except ValidationException:
        return None  # e.g. labels were removed meanwhile: the next trigger tries again
    except Exception:  # e.g. the broker is down: the epoch records the error; never fail the job update
        logger.exception('Could not start the follow-up epoch of project %s', details['projectId'])
        return None
