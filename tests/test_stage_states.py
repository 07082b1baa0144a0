"""Stage and training states: one definition of each status and its transitions, checked inside every update,
so a late or duplicate job callback never moves a finished stage or epoch backwards."""
import json

import numpy as np
import pytest
from pytest_girder.assertions import assertStatus

from conftest import SUPERPIXELS


def test_stage_and_training_transitions():
    from girder.exceptions import ValidationException

    from histomics_label.models.states import StageStatus, TrainingStatus

    assert StageStatus.valid_transitions(StageStatus.PENDING) == ('running', 'done', 'error')
    assert StageStatus.valid_transitions(StageStatus.DONE) == ('running',)
    assert StageStatus.valid_transitions('bogus') == ()
    assert StageStatus.sources(StageStatus.DONE) == ['pending', 'running', 'error']
    assert StageStatus.sources(StageStatus.ERROR) == ['pending', 'running']
    assert StageStatus.sources(StageStatus.RUNNING) == ['pending', 'done', 'error']
    assert TrainingStatus.sources(TrainingStatus.ERROR) == ['running']
    assert TrainingStatus.sources(TrainingStatus.DONE) == ['running', 'error']
    assert TrainingStatus.valid_transitions(TrainingStatus.DONE) == ()
    with pytest.raises(ValidationException, match='Unknown status'):
        StageStatus.sources('finished')


def _slide(project):
    from histomics_label.models.slide import ProjectSlide

    return ProjectSlide().findOne({'projectId': project['_id']})


def _job(admin, details, status=None, log=None):
    from girder.models.setting import Setting
    from girder.settings import SettingKey
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job

    Setting().set(SettingKey.SERVER_ROOT, 'http://127.0.0.1:8080')  # the worker plugin gives jobs the API URL
    job = Job().createJob('test', 'histomics_label.test', user=admin, otherFields={'histomicsLabel': details})
    if status is not None:  # through the model, as the worker reports it: the plugin's handler sees the update
        job = Job().updateJob(job, status=JobStatus.RUNNING)
        job = Job().updateJob(job, status=status, log=log)
    return job


@pytest.mark.plugin('histomics_label')
def test_set_stage_checks_the_transition_inside_the_update(server, project):
    from bson import ObjectId
    from girder.exceptions import ValidationException

    from histomics_label.models.slide import ProjectSlide

    slide = _slide(project)
    first, second = ObjectId(), ObjectId()
    running = ProjectSlide().set_stage(slide, 'features', 'running', jobId=first, error=None)
    assert running['features'] == {'status': 'running', 'jobId': first, 'error': None}
    # running -> running is refused (a second launch while a job runs) and writes nothing
    assert ProjectSlide().set_stage(slide, 'features', 'running', jobId=second) is None
    # the failure of another job than the one recorded changes nothing
    assert ProjectSlide().set_stage(slide, 'features', 'error', job_id=second, error='late') is None
    done = ProjectSlide().set_stage(slide, 'features', 'done', fileId='f1')
    assert done['features'] == {'status': 'done', 'jobId': first, 'error': None, 'fileId': 'f1'}
    # a finished stage: a duplicate report or a late failure leave it as it is
    assert ProjectSlide().set_stage(slide, 'features', 'done', fileId='f2') is None
    assert ProjectSlide().set_stage(slide, 'features', 'error', job_id=first, error='late') is None
    assert ProjectSlide().set_stage(slide, 'features', 'pending') is None
    assert ProjectSlide().load(slide['_id'])['features'] == done['features']
    with pytest.raises(ValidationException, match='finished stage takes no second report'):
        ProjectSlide().move_stage(slide, 'features', 'done', fileId='f2')
    with pytest.raises(ValidationException, match='Unknown stage'):
        ProjectSlide().set_stage(slide, 'tiling', 'running')
    # done -> running is an explicit recompute; error -> done a bring-your-own report
    assert ProjectSlide().set_stage(slide, 'features', 'running', jobId=second)['features']['jobId'] == second
    assert ProjectSlide().set_stage(slide, 'features', 'error', job_id=second, error='boom') is not None
    assert ProjectSlide().set_stage(slide, 'features', 'done', fileId='f3')['features']['fileId'] == 'f3'


@pytest.mark.plugin('histomics_label')
def test_a_job_failure_marks_only_the_stage_of_that_job(server, admin, project):
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job

    from histomics_label.jobs.pipeline import record_job_failure
    from histomics_label.models.slide import ProjectSlide

    slide = _slide(project)
    details = {'projectId': str(project['_id']), 'itemId': str(slide['itemId']), 'stage': 'segmentation'}
    current = _job(admin, details)
    ProjectSlide().set_stage(slide, 'segmentation', 'running', jobId=current['_id'])
    # an earlier job of the stage fails late (through the jobs.job.update.after event): nothing moves
    _job(admin, details, JobStatus.ERROR, 'ValueError: stale\n')
    assert _slide(project)['segmentation'] == {'status': 'running', 'jobId': current['_id']}
    # the stage's own job fails, through the event: running -> error with the job's error line
    Job().updateJob(current, status=JobStatus.RUNNING)
    Job().updateJob(Job().load(current['_id'], force=True), status=JobStatus.ERROR,
                    log='Traceback (most recent call last):\nOSError: disk full\n')
    assert _slide(project)['segmentation'] == {'status': 'error', 'jobId': current['_id'], 'error': 'OSError: disk full'}
    # a duplicate failure callback of the same job changes nothing more
    assert record_job_failure(Job().load(current['_id'], force=True)) is False


@pytest.mark.plugin('histomics_label')
def test_a_late_failure_never_undoes_a_finished_stage(server, admin, project, segmented):
    from girder_jobs.constants import JobStatus

    from histomics_label.jobs.pipeline import record_job_failure
    from histomics_label.models.slide import ProjectSlide

    details = {'projectId': str(project['_id']), 'itemId': str(segmented['itemId']), 'stage': 'features'}
    job = _job(admin, details)
    ProjectSlide().set_stage(segmented, 'features', 'running', jobId=job['_id'])
    ProjectSlide().set_stage(segmented, 'features', 'done', fileId='features')  # the CLI reported its outputs
    job['status'] = JobStatus.CANCELED  # and then its job was canceled
    assert record_job_failure(job) is False
    assert _slide(project)['features'] == {'status': 'done', 'jobId': job['_id'], 'fileId': 'features'}


@pytest.mark.plugin('histomics_label')
def test_a_second_segmentation_report_is_a_400_and_writes_nothing(server, admin, project, segmented, slide_item):
    from girder.exceptions import ValidationException
    from girder.models.item import Item

    from histomics_label.models.superpixels import SuperpixelGeometry

    before = SuperpixelGeometry().findOne({'slideId': segmented['_id']})
    slide = _slide(project)
    other = np.zeros((5, 2)), np.zeros((5, 4))
    with pytest.raises(ValidationException, match='segmentation of slide .* is done'):
        SuperpixelGeometry().store(slide, *other, labelItemId='other')
    after = SuperpixelGeometry().findOne({'slideId': segmented['_id']})
    assert after['version'] == before['version'] == 1 and after['count'] == SUPERPIXELS
    assert _slide(project) == slide and slide['superpixelCount'] == SUPERPIXELS

    # the same through the report route (what a duplicate worker callback does)
    file = next(Item().childFiles(slide_item))
    outputs = {'outputSuperpixelImage': {'itemId': str(slide_item['_id'])},
               'outputSuperpixelData': {'fileId': str(file['_id'])}}
    resp = server.request('/histomics_label/project/%s/slide/%s/superpixels' % (project['_id'], slide['itemId']),
                          method='POST', user=admin, params={'outputs': json.dumps(outputs)})
    assertStatus(resp, 400)
    assert 'finished stage takes no second report' in resp.json['message']
    assert _slide(project) == slide and Item().load(slide_item['_id'], force=True)['largeImage'] == \
        slide_item['largeImage']


@pytest.mark.plugin('histomics_label')
def test_a_second_features_report_is_a_400_and_writes_nothing(server, admin, project, segmented, slide_item):
    from girder.models.item import Item

    from histomics_label.models.slide import ProjectSlide

    done = ProjectSlide().set_stage(segmented, 'features', 'done', fileId='first')
    file = next(Item().childFiles(slide_item))
    resp = server.request('/histomics_label/project/%s/slide/%s/features' % (project['_id'], segmented['itemId']),
                          method='POST', user=admin,
                          params={'outputs': json.dumps({'outputFeatures': {'fileId': str(file['_id'])}})})
    assertStatus(resp, 400)
    assert 'features of slide' in resp.json['message'] and 'is done' in resp.json['message']
    assert _slide(project)['features'] == done['features']


@pytest.mark.plugin('histomics_label')
def test_a_stage_that_is_running_is_not_launched_twice(server, admin, project, segmented):
    from girder.exceptions import ValidationException
    from girder_jobs.models.job import Job

    from histomics_label.jobs.pipeline import launch_features
    from histomics_label.models.slide import ProjectSlide

    running = ProjectSlide().set_stage(segmented, 'features', 'running', jobId='job-1')
    jobs = Job().find({}).count()
    with pytest.raises(ValidationException, match='still running'):
        launch_features(project, running, admin)
    assert Job().find({}).count() == jobs and _slide(project)['features'] == running['features']


@pytest.mark.plugin('histomics_label')
def test_training_states_follow_their_epoch(server, admin, project):
    from girder_jobs.constants import JobStatus

    from histomics_label.jobs.pipeline import record_job_failure, record_training
    from histomics_label.models.project import Project

    def training():
        return Project().findOne({'_id': project['_id']})['training']

    def failed(epoch):
        job = _job(admin, {'projectId': str(project['_id']), 'stage': 'training', 'epoch': epoch})
        job['status'] = JobStatus.ERROR
        return record_job_failure(job)

    record_training(project, 1, jobId=None)
    assert training()['status'] == 'running' and training()['epoch'] == 1
    Project().publish_epoch(project, 1, [])
    assert training()['status'] == 'done'
    # a late failure of the published epoch changes nothing
    assert failed(1) is False and training()['status'] == 'done' and training()['error'] is None

    record_training(project, 2, jobId=None)
    record_training(project, 1, jobId='stale')  # an older epoch never replaces the newer record
    assert training()['epoch'] == 2 and training()['jobId'] is None
    assert failed(1) is False and training()['status'] == 'running'
    assert failed(2) is True
    assert training()['status'] == 'error' and training()['error'] == 'The job ended with status %d.' % JobStatus.ERROR
    assert failed(2) is False
    # its predictions arrive after all: the published epoch is the project's model, so the epoch is done
    Project().publish_epoch(project, 2, [])
    assert training()['status'] == 'done' and Project().findOne({'_id': project['_id']})['epoch'] == 2


@pytest.mark.plugin('histomics_label')
def test_features_that_cannot_start_show_why_unless_a_job_runs_them(server, admin, project, slide_item, monkeypatch):
    from girder.models.item import Item

    from girder.exceptions import RestException

    from histomics_label.jobs import pipeline
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    def unreachable(*args, **kwargs):
        raise RestException('The job queue is unreachable (connection refused).', code=503)

    monkeypatch.setattr(pipeline, 'launch_cli', unreachable)
    file = next(Item().childFiles(slide_item))
    slide = SuperpixelGeometry().store(_slide(project), np.zeros((4, 2)), np.ones((4, 4)),
                                       labelItemId=slide_item['_id'], dataFileId=file['_id'])
    features = pipeline.start_features(project, slide, admin)['features']
    assert features['status'] == 'error' and features['error'].startswith('The job queue is unreachable')
    running = ProjectSlide().set_stage(slide, 'features', 'running', jobId='job-1', error=None)
    assert pipeline.start_features(project, running, admin)['features'] == running['features']
