"""The launcher and its executors: the setting picks the executor, bad CLI names or parameters are refused
before anything is created, and a broker error fails exactly the job it left unqueued (the local executor
here; the slicer_cli_web one in test_slicer_cli_dispatch.py)."""
import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

from test_jobs import use_broker


@pytest.fixture
def broker(redis_url):
    """The Celery app on the test Redis; messages queued meanwhile are purged afterwards (no worker runs)."""
    from girder_worker.app import app

    use_broker(app, redis_url)
    yield app
    use_broker(app, redis_url)
    app.control.purge()


@pytest.mark.plugin('histomics_label')
def test_the_cli_image_setting_chooses_the_executor(server):
    from girder.models.setting import Setting

    from histomics_label.jobs.executors.base import Executor
    from histomics_label.jobs.executors.local import LocalExecutor
    from histomics_label.jobs.executors.slicer_cli import SlicerCliExecutor
    from histomics_label.jobs.launcher import site_executor

    assert type(site_executor()) is LocalExecutor
    Setting().set('histomics_label.cli_image', 'histomics-label/cli:1.0')
    executor = site_executor()
    assert type(executor) is SlicerCliExecutor and executor.image == 'histomics-label/cli:1.0'
    assert isinstance(executor, Executor) and isinstance(LocalExecutor(), Executor)


@pytest.mark.plugin('histomics_label')
def test_an_unknown_cli_or_parameter_is_refused_before_anything_is_created(server, admin, broker):
    from girder.models.token import Token
    from girder_jobs.models.job import Job

    from histomics_label.jobs.launcher import launch_cli

    tokens = Token().find({}).count()
    with pytest.raises(ValueError, match="Unknown CLI 'NucleiDetection'"):
        launch_cli('NucleiDetection', {}, admin, 'Nuclei', {})
    with pytest.raises(ValueError, match='CLI TissueDetection has no parameter inputImage, radius'):
        launch_cli('TissueDetection', {'itemId': 'x', 'radius': 3, 'inputImage': 'y'}, admin, 'Tissue', {})
    assert Job().find({}).count() == 0 and Token().find({}).count() == tokens


@pytest.mark.plugin('histomics_label')
def test_a_broker_error_fails_exactly_the_local_job_it_created(server, admin, slide_item, broker, redis_url):
    """Two jobs of the same user and CLI wait in the queue; the broker goes away while a third is queued:
    that one is failed with the reason in its log, the other two stay queued."""
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job

    from conftest import free_port

    path = '/histomics_label/slide/%s/tissue_detection' % slide_item['_id']
    queued = []
    for _ in range(2):
        resp = server.request(path, method='POST', user=admin)
        assertStatusOk(resp)
        queued.append(resp.json['_id'])
    use_broker(broker, 'redis://127.0.0.1:%d/0' % free_port())  # nothing listens there
    try:
        resp = server.request(path, method='POST', user=admin)
    finally:
        use_broker(broker, redis_url)
    assertStatus(resp, 503)
    assert 'The job queue is unreachable' in resp.json['message']

    jobs = [Job().load(job['_id'], force=True, includeLog=True) for job in Job().find({}, sort=[('created', 1)])]
    assert [str(job['_id']) for job in jobs[:2]] == queued and len(jobs) == 3
    details = {'itemId': str(slide_item['_id']), 'cli': 'TissueDetection'}
    for job in jobs:
        assert job['type'] == 'histomics_label.TissueDetection' and job['userId'] == admin['_id']
        assert job['title'] == 'Tissue detection: CMU-1-Small-Region.svs' and job['histomicsLabel'] == details
    assert [job['status'] for job in jobs] == [JobStatus.INACTIVE, JobStatus.INACTIVE, JobStatus.ERROR]
    assert jobs[0]['log'] == jobs[1]['log'] == []
    assert len(jobs[2]['log']) == 1 and jobs[2]['log'][0].startswith('Could not queue the job: ')
