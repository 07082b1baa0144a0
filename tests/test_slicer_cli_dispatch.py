"""The DSA executor: with ``histomics_label.cli_image`` set, pipeline jobs go through slicer_cli_web as Docker
jobs of our CLI image. Docker cannot run here, so the image's CLIs are registered from the package's own XML
specs (what slicer_cli_web stores after ``docker run IMAGE --list_cli`` / ``<CLI> --xml``), the ``docker run``
message is published to the real Redis broker and captured, and its container arguments are then run as the
image's entrypoint would run them: the CLI itself, in Girder mode, against this Girder over HTTP."""
import json
import subprocess
import sys
import types

import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

IMAGE = 'histomics-label/cli:test'


@pytest.fixture
def cli_image(boundServer, admin, redis_url):
    """Our CLIs registered in slicer_cli_web under IMAGE, in a private task folder."""
    from girder.models.collection import Collection
    from girder.models.folder import Folder
    from girder.models.setting import Setting
    from girder_worker.app import app
    from slicer_cli_web.models import DockerImageItem

    from histomics_label.jobs.cli_catalog import cli_names, cli_script

    from test_jobs import use_broker

    Setting().set('worker.api_url', 'http://127.0.0.1:%d/api/v1' % boundServer.boundPort)
    Setting().set('worker.broker', redis_url)
    Setting().set('worker.backend', redis_url)
    use_broker(app, redis_url)
    tasks = Folder().createFolder(Collection().createCollection('Tasks', admin, public=False), 'Slicer CLI Web Tasks',
                                  parentType='collection', creator=admin)
    Setting().set('slicer_cli_web.task_folder', str(tasks['_id']))
    clis = {}
    for name in cli_names():
        with open(cli_script(name)[:-3] + '.xml') as f:
            clis[name] = {'type': 'python', 'xml': f.read()}
    inspected = types.SimpleNamespace(labels={'description': 'Histomics Label CLIs'}, attrs={'RepoDigests': []})
    DockerImageItem.saveImage(IMAGE, clis, inspected, admin, tasks)
    # the run endpoints HistomicsUI's Analyses menu calls (slicer_cli_web adds them when its image job ends)
    boundServer.root.api.v1.slicer_cli_web._generateAllItemEndPoints()
    Setting().set('histomics_label.cli_image', IMAGE)
    return tasks


@pytest.fixture
def published(redis_url):
    """Every task message published meanwhile: (task name, args, kwargs, headers)."""
    from celery.signals import before_task_publish

    messages = []

    def record(sender=None, body=None, headers=None, **kwargs):
        messages.append((sender, body[0], body[1], dict(headers)))

    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)


def container_argv(kwargs):
    """The command line the image's entrypoint gets: girder_worker resolves each transform in the message
    (GirderApiUrl -> the worker's API URL, GirderToken -> the data-scoped token made for the job)."""
    argv = [argument if isinstance(argument, str) else argument.transform() for argument in kwargs['container_args']]
    assert all(isinstance(argument, str) for argument in argv), argv
    return argv


@pytest.mark.plugin('histomics_label')
def test_pipeline_jobs_run_as_slicer_cli_web_docker_jobs(boundServer, admin, project, cli_image, published,
                                                         redis_url):
    import redis
    from girder.models.token import Token
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job
    from girder_large_image_annotation.models.annotation import Annotation

    from histomics_label.jobs.cli_catalog import cli_script
    from histomics_label.models.label import Label
    from histomics_label.models.slide import ProjectSlide

    queue = redis.Redis.from_url(redis_url)
    queued_before = queue.llen('celery')
    path = '/histomics_label/project/%s' % project['_id']
    resp = boundServer.request(path + '/segment', method='POST', user=admin)
    assertStatusOk(resp)
    job = Job().load(resp.json[0]['_id'], force=True)
    assert job['type'] == '%s#SuperpixelSegmentation' % IMAGE
    assert job['title'] == 'Superpixels: CMU-1-Small-Region.svs'
    assert job['histomicsLabel'] == {'projectId': str(project['_id']), 'itemId': str(project_slide_item(project)),
                                     'stage': 'segmentation', 'cli': 'SuperpixelSegmentation'}
    slide = ProjectSlide().findOne({'projectId': project['_id']})
    assert slide['segmentation']['status'] == 'running' and slide['segmentation']['jobId'] == job['_id']

    # one docker run message reached the broker, for our image, with the CLI in Girder mode
    assert queue.llen('celery') == queued_before + 1
    (task, args, kwargs, _), = published
    assert task == 'slicer_cli_web.girder_worker_plugin.direct_docker_run.run'
    assert kwargs['image'] == IMAGE
    argv = container_argv(kwargs)
    assert argv[0] == 'SuperpixelSegmentation'
    flags = dict(zip(argv[1::2], argv[2::2]))
    assert flags['--project-id'] == str(project['_id']) and flags['--item-id'] == str(slide['itemId'])
    assert flags['--api-url'].rstrip('/') == 'http://127.0.0.1:%d/api/v1' % boundServer.boundPort
    token = Token().load(flags['--girder-token'], force=True, objectId=False)
    assert token['userId'] == admin['_id'] and set(token['scope']) == {'core.data.read', 'core.data.write'}

    # the container: the image's entrypoint runs the named CLI with the rest of the arguments
    result = subprocess.run([sys.executable, cli_script(argv[0])] + argv[1:], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    slide = ProjectSlide().findOne({'projectId': project['_id']})
    assert slide['segmentation']['status'] == 'done' and 150 < slide['superpixelCount'] < 600
    element = Annotation().findOne({'itemId': slide['itemId']})['annotation']
    assert element['name'] == 'Superpixels'

    # ingesting the superpixels queued the features as the next docker job
    assert [message[0] for message in published][-1].endswith('direct_docker_run.run')
    assert container_argv(published[-1][2])[0] == 'SuperpixelFeatures'
    features_job = Job().load(slide['features']['jobId'], force=True)
    assert features_job['type'] == '%s#SuperpixelFeatures' % IMAGE

    # labels go on; then the features container fails: the slide shows its error, the labels stay
    category = boundServer.request(path + '/category', method='POST', user=admin, params={'name': 'Tumor'}).json
    body = {'itemId': str(slide['itemId']), 'labels': [{'superpixel': i, 'categoryId': category['_id']}
                                                       for i in range(10)]}
    assertStatusOk(boundServer.request(path + '/label', method='PUT', user=admin, type='application/json',
                                       body=json.dumps(body)))
    features_job = Job().updateJob(features_job, status=JobStatus.RUNNING)
    Job().updateJob(features_job, status=JobStatus.ERROR,
                    log='Traceback (most recent call last):\nOSError: cannot allocate memory for the patches\n')
    status = boundServer.request(path + '/status', user=admin).json['slides'][0]
    assert status['features']['status'] == 'error'
    assert status['features']['error'] == 'OSError: cannot allocate memory for the patches'
    assert Label().find({'projectId': project['_id']}).count() == 10


@pytest.mark.plugin('histomics_label')
def test_tissue_detection_runs_as_a_docker_job_too(boundServer, admin, slide_item, cli_image, published):
    from girder_jobs.models.job import Job
    from girder_large_image_annotation.models.annotation import Annotation

    from histomics_label.jobs.cli_catalog import cli_script

    resp = boundServer.request('/histomics_label/slide/%s/tissue_detection' % slide_item['_id'], method='POST',
                               user=admin, params={'analysisSize': 1024})
    assertStatusOk(resp)
    assert Job().load(resp.json['_id'], force=True)['type'] == '%s#TissueDetection' % IMAGE
    argv = container_argv(published[-1][2])
    flags = dict(zip(argv[1::2], argv[2::2]))
    assert argv[0] == 'TissueDetection' and flags['--item-id'] == str(slide_item['_id'])
    assert flags['--analysis-size'] == '1024'
    result = subprocess.run([sys.executable, cli_script(argv[0])] + argv[1:], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    tissue = Annotation().findOne({'itemId': slide_item['_id']})
    assert tissue['annotation']['name'] == 'Tissue' and tissue['creatorId'] == admin['_id']


def project_slide_item(project):
    from histomics_label.models.slide import ProjectSlide

    return ProjectSlide().findOne({'projectId': project['_id']})['itemId']


@pytest.mark.plugin('histomics_label')
def test_a_broker_error_fails_exactly_the_job_it_created(boundServer, admin, slide_item, cli_image, published,
                                                        redis_url):
    """Two jobs of the same user and CLI wait in the queue, started from HistomicsUI's Analyses menu
    (slicer_cli_web's own endpoint: no ``histomicsLabel``); then the broker goes away while our endpoint
    queues a third. Only that third job is failed, with the reason in its log."""
    from girder.models.item import Item
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job
    from girder_worker.app import app

    from conftest import free_port
    from test_jobs import use_broker

    cli_item = Item().findOne({'meta.image': IMAGE, 'name': 'TissueDetection'})
    queued = []
    for _ in range(2):
        resp = boundServer.request('/slicer_cli_web/cli/%s/run' % cli_item['_id'], method='POST', user=admin,
                                   params={'itemId': str(slide_item['_id']), 'girderApiUrl': '', 'girderToken': ''})
        assertStatusOk(resp)
        queued.append(resp.json['_id'])
    use_broker(app, 'redis://127.0.0.1:%d/0' % free_port())  # nothing listens there
    try:
        resp = boundServer.request('/histomics_label/slide/%s/tissue_detection' % slide_item['_id'],
                                   method='POST', user=admin)
    finally:
        use_broker(app, redis_url)
    assertStatus(resp, 503)
    assert 'The job queue is unreachable' in resp.json['message']

    jobs = [Job().load(job['_id'], force=True, includeLog=True) for job in Job().find({}, sort=[('created', 1)])]
    assert len(published) == 3 and [str(job['_id']) for job in jobs[:2]] == queued
    assert all(job['type'] == '%s#TissueDetection' % IMAGE and job['userId'] == admin['_id'] for job in jobs)
    for job in jobs[:2]:
        assert job['status'] == JobStatus.INACTIVE and not job.get('log') and 'histomicsLabel' not in job
    failed = jobs[2]
    assert failed['status'] == JobStatus.ERROR and failed['celeryTaskId'] == published[2][3]['id']
    assert len(failed['log']) == 1 and failed['log'][0].startswith('Could not queue the job: ')
    assert failed['title'] == 'Tissue detection: CMU-1-Small-Region.svs'
    assert failed['histomicsLabel'] == {'itemId': str(slide_item['_id']), 'cli': 'TissueDetection'}


@pytest.mark.plugin('histomics_label')
def test_an_unregistered_image_or_cli_is_a_503_and_starts_nothing(boundServer, admin, project, cli_image, published):
    from girder.models.item import Item
    from girder.models.setting import Setting
    from girder_jobs.models.job import Job

    from histomics_label.models.slide import ProjectSlide

    path = '/histomics_label/project/%s/segment' % project['_id']
    Setting().set('histomics_label.cli_image', 'histomics-label/cli:missing')
    resp = boundServer.request(path, method='POST', user=admin)
    assertStatus(resp, 503)
    assert 'histomics-label/cli:missing is not registered in slicer_cli_web' in resp.json['message']
    Setting().set('histomics_label.cli_image', IMAGE)
    Item().remove(Item().findOne({'meta.image': IMAGE, 'name': 'SuperpixelSegmentation'}))
    resp = boundServer.request(path, method='POST', user=admin)
    assertStatus(resp, 503)
    assert 'The CLI SuperpixelSegmentation of image %s is not registered' % IMAGE in resp.json['message']
    assert published == [] and Job().find({}).count() == 0
    assert ProjectSlide().findOne({'projectId': project['_id']})['segmentation'] == {'status': 'pending'}


@pytest.mark.plugin('histomics_label')
def test_a_labeler_who_may_not_run_the_cli_image_gets_a_403(boundServer, admin, labeler, project, cli_image, published):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    resp = boundServer.request('/histomics_label/project/%s/segment' % project['_id'], method='POST', user=labeler)
    assertStatus(resp, 403)  # the private task folder holds the CLI items
    assert published == []


@pytest.mark.plugin('histomics_label')
def test_the_cli_image_setting_is_validated(server, admin):
    for bad in ('not an image', 'histomics-label/cli', 42):
        resp = server.request('/system/setting', method='PUT', user=admin,
                              params={'key': 'histomics_label.cli_image', 'value': json.dumps(bad)})
        assertStatus(resp, 400)
    for good in ('histomics-label/cli:latest', 'registry.example.org:5000/dsa/histomics-label:1.0', ''):
        resp = server.request('/system/setting', method='PUT', user=admin,
                              params={'key': 'histomics_label.cli_image', 'value': json.dumps(good)})
        assertStatusOk(resp)
        assert server.request('/system/setting', user=admin,
                              params={'key': 'histomics_label.cli_image'}).json == good
