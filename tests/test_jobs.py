"""End to end: REST endpoint -> Girder job -> Redis broker -> Celery worker -> CLI subprocess -> Girder.

The worker runs in this process (celery's testing worker, solo pool) because with the mock database
only this process can see Girder's data; it still talks to Girder over HTTP like a remote worker.
"""
import json
import time

import pytest
from pytest_girder.assertions import assertStatusOk

from conftest import wait_for_job


def use_broker(app, url):
    """Point the Celery app at ``url``, dropping connection pools made for a previous broker."""
    app.conf.update(broker_url=url, result_backend=url)
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def worker(boundServer, redis_url):
    from celery.contrib.testing.worker import start_worker
    from girder.models.setting import Setting
    from girder_worker.app import app

    Setting().set('worker.api_url', 'http://127.0.0.1:%d/api/v1' % boundServer.boundPort)
    Setting().set('worker.broker', redis_url)
    Setting().set('worker.backend', redis_url)
    use_broker(app, redis_url)
    with start_worker(app, pool='solo', perform_ping_check=False, shutdown_timeout=30):
        yield app


@pytest.mark.plugin('histomics_label')
def test_tissue_detection_job_runs_on_the_worker_and_writes_an_annotation(
        boundServer, worker, slide_item, labeler):
    from girder.constants import AccessType
    from girder.models.folder import Folder
    from girder_jobs.constants import JobStatus
    from girder_large_image_annotation.models.annotation import Annotation

    # a non-admin member with write access on the study folder runs it
    folder = Folder().load(slide_item['folderId'], force=True)
    Folder().setUserAccess(folder, labeler, AccessType.WRITE, save=True)
    resp = boundServer.request('/histomics_label/slide/%s/tissue_detection' % slide_item['_id'],
                               method='POST', user=labeler, params={'analysisSize': 1024})
    assertStatusOk(resp)
    assert resp.json['type'] == 'histomics_label.TissueDetection'
    assert 'args' not in resp.json  # job arguments stay visible to site admins only
    job = wait_for_job(resp.json['_id'])
    log = ''.join(job['log'])
    assert job['status'] == JobStatus.SUCCESS, log
    assert 'Found' in log and 'tissue regions' in log
    assert job['progress']['current'] == job['progress']['total'] == 100

    annotations = list(Annotation().find({'itemId': slide_item['_id'], '_active': {'$ne': False}}))
    assert [a['annotation']['name'] for a in annotations] == ['Tissue']
    assert annotations[0]['creatorId'] == labeler['_id']
    tissue = Annotation().load(annotations[0]['_id'], user=labeler)
    elements = tissue['annotation']['elements']
    assert len(elements) >= 1
    assert all(e['type'] == 'polyline' and e['closed'] for e in elements)
    # polygons are in base-slide pixels: inside the 2220 x 2967 slide, and not a tiny overview
    xs = [p[0] for e in elements for p in e['points']]
    ys = [p[1] for e in elements for p in e['points']]
    assert 0 <= min(xs) and max(xs) <= 2220 and 0 <= min(ys) and max(ys) <= 2967
    assert max(xs) - min(xs) > 1000
    assert 0.2 < tissue['annotation']['attributes']['tissueFraction'] < 0.9


@pytest.mark.plugin('histomics_label')
def test_a_failing_cli_marks_the_job_as_error_with_its_message(boundServer, worker, slide_item, admin):
    """A slide whose file is not an image makes the CLI fail: the job shows the error, nothing is written."""
    from girder.models.item import Item
    from girder.models.upload import Upload
    from girder_jobs.constants import JobStatus
    from girder_large_image_annotation.models.annotation import Annotation

    folder_id = slide_item['folderId']
    broken = Upload().uploadFromFile(
        __import__('io').BytesIO(b'not a slide'), 11, 'broken.svs', parentType='folder',
        parent={'_id': folder_id, '_modelType': 'folder'}, user=admin)
    item = Item().load(broken['itemId'], force=True)
    item['largeImage'] = {'fileId': broken['_id'], 'sourceName': 'openslide'}
    Item().save(item)

    resp = boundServer.request('/histomics_label/slide/%s/tissue_detection' % item['_id'],
                               method='POST', user=admin)
    assertStatusOk(resp)
    job = wait_for_job(resp.json['_id'])
    log = ''.join(job['log'])
    assert job['status'] == JobStatus.ERROR
    assert 'CliFailed' in log and 'TissueDetection exited with code' in log
    assert Annotation().find({'itemId': item['_id']}).count() == 0


@pytest.mark.plugin('histomics_label')
def test_segmentation_job_gives_the_slide_superpixels_and_a_pixelmap(boundServer, worker, project, admin):
    import json

    from girder.models.item import Item
    from girder_large_image_annotation.models.annotation import Annotation

    from histomics_label.models.slide import ProjectSlide

    resp = boundServer.request('/histomics_label/project/%s/segment' % project['_id'], method='POST', user=admin)
    assertStatusOk(resp)
    assert len(resp.json) == 1
    running = boundServer.request('/histomics_label/project/%s/status' % project['_id'], user=admin).json
    assert running['slides'][0]['segmentation']['status'] in ('running', 'done')
    job = wait_for_job(resp.json[0]['_id'])
    assert job['status'] == 3, ''.join(job['log'])

    status = boundServer.request('/histomics_label/project/%s/status' % project['_id'], user=admin).json
    slide_status = status['slides'][0]
    assert slide_status['segmented'] is True and slide_status['segmentation']['status'] == 'done'
    assert 150 < slide_status['superpixelCount'] < 600  # tissue only, radius 100 on a 2220 x 2967 slide
    slide = ProjectSlide().findOne({'projectId': project['_id']})
    label_item = Item().load(slide['segmentation']['labelItemId'], force=True)
    assert label_item['largeImage']['fileId']
    assert label_item['folderId'] != slide['itemId']  # in the project's data folder, not a new slide
    annotations = list(Annotation().find({'itemId': slide['itemId']}))
    assert [a['annotation']['name'] for a in annotations] == ['Superpixels']
    element = Annotation().load(annotations[0]['_id'], force=True)['annotation']['elements'][0]
    assert element['type'] == 'pixelmap' and element['girderId'] == str(label_item['_id'])
    assert len(element['values']) == slide['superpixelCount']
    assert len(element['user']['bbox']) == 4 * slide['superpixelCount']

    # the slide now takes labels, for superpixels that exist only
    category = boundServer.request('/histomics_label/project/%s/category' % project['_id'], method='POST',
                                   user=admin, params={'name': 'Tumor'}).json
    body = {'itemId': str(slide['itemId']), 'labels': [
        {'superpixel': slide['superpixelCount'] - 1, 'categoryId': category['_id']}]}
    assertStatusOk(boundServer.request('/histomics_label/project/%s/label' % project['_id'], method='PUT',
                                       user=admin, type='application/json', body=json.dumps(body)))
    body['labels'][0]['superpixel'] = slide['superpixelCount']
    resp = boundServer.request('/histomics_label/project/%s/label' % project['_id'], method='PUT', user=admin,
                               type='application/json', body=json.dumps(body))
    assert resp.status.startswith('400')
    # re-ingesting a segmentation would orphan those labels
    outputs = {'outputSuperpixelImage': {'itemId': str(label_item['_id'])},
               'outputSuperpixelData': {'fileId': str(slide['segmentation']['dataFileId'])}}
    resp = boundServer.request('/histomics_label/project/%s/slide/%s/superpixels' % (
        project['_id'], slide['itemId']), method='POST', user=admin, params={'outputs': json.dumps(outputs)})
    assert resp.status.startswith('400') and 'already has labels' in resp.json['message']


@pytest.mark.plugin('histomics_label')
def test_a_failed_segmentation_keeps_labels_and_shows_its_error(boundServer, worker, project, segmented, admin,
                                                               monkeypatch):
    """A second slide whose pixels cannot be read fails in the CLI: its error is in the status, and the
    first slide's labels stay."""
    import io
    import json

    from girder.models.folder import Folder
    from girder.models.item import Item
    from girder.models.upload import Upload

    from histomics_label.models.category import Category
    from histomics_label.models.label import Label

    tumor = str(Category().create(project, 'Tumor')['_id'])
    labels = [{'superpixel': i, 'categoryId': tumor} for i in range(30)]
    boundServer.request('/histomics_label/project/%s/label' % project['_id'], method='PUT', user=admin,
                        type='application/json',
                        body=json.dumps({'itemId': str(segmented['itemId']), 'labels': labels}))
    folder = Folder().load(project['folderId'], force=True)
    broken = Upload().uploadFromFile(io.BytesIO(b'not a slide'), 11, 'broken.svs', parentType='folder',
                                     parent=folder, user=admin)
    item = Item().load(broken['itemId'], force=True)
    item['largeImage'] = {'fileId': broken['_id'], 'sourceName': 'openslide'}
    Item().save(item)
    boundServer.request('/histomics_label/project/%s/slides' % project['_id'], method='POST', user=admin)
    path = '/histomics_label/project/%s/segment' % project['_id']
    params = {'itemIds': json.dumps([str(item['_id'])])}
    resp = boundServer.request(path, method='POST', user=admin, params=params)
    assert resp.status.startswith('400') and 'cannot be opened as an image' in resp.json['message']

    # a slide whose header reads but whose pixels do not gets as far as the worker
    from girder_large_image.models.image_item import ImageItem

    monkeypatch.setattr(ImageItem, 'getMetadata', lambda self, item, **kwargs: {'magnification': 20})
    resp = boundServer.request(path, method='POST', user=admin, params=params)
    assertStatusOk(resp)
    job = wait_for_job(resp.json[0]['_id'])
    assert job['status'] == 4
    assert 'SuperpixelSegmentation exited with code 1' in ''.join(job['log'])
    status = boundServer.request('/histomics_label/project/%s/status' % project['_id'], user=admin).json
    by_name = {s['name']: s for s in status['slides']}
    assert by_name['broken.svs']['segmentation']['status'] == 'error'
    error = by_name['broken.svs']['segmentation']['error']
    assert error.startswith('large_image.exceptions.TileSourceError: ') and 'broken.svs' in error
    assert by_name['CMU-1-Small-Region.svs']['labeled'] == 30
    assert Label().find({'projectId': project['_id']}).count() == 30


def wait_for_stage(project_id, stage, timeout=300):
    from histomics_label.models.slide import ProjectSlide

    deadline = time.time() + timeout
    while time.time() < deadline:
        slide = ProjectSlide().findOne({'projectId': project_id})
        if slide[stage].get('status') in ('done', 'error'):
            return slide
        time.sleep(0.5)
    raise AssertionError('%s did not finish: %r' % (stage, slide[stage]))


@pytest.mark.plugin('histomics_label')
def test_segment_featurize_train_then_serve_a_ranked_batch(boundServer, worker, project, admin):
    """The whole loop on the CMU slide through the real worker: segmentation -> features (started by
    segmentation) -> labels -> training epoch -> predictions and the ranked queue."""
    import json

    from histomics_label.models.project import Project

    path = '/histomics_label/project/%s' % project['_id']
    assertStatusOk(boundServer.request(path + '/segment', method='POST', user=admin))
    slide = wait_for_stage(project['_id'], 'segmentation')
    assert slide['segmentation']['status'] == 'done', slide['segmentation']
    slide = wait_for_stage(project['_id'], 'features')
    assert slide['features']['status'] == 'done', slide['features']

    tumor, stroma = (boundServer.request(path + '/category', method='POST', user=admin, params={'name': n}).json
                     for n in ('Tumor', 'Stroma'))
    from histomics_label.models.superpixels import SuperpixelGeometry

    centroids, _ = SuperpixelGeometry().geometry(slide)
    upper = [int(i) for i in range(len(centroids)) if centroids[i][1] < 1000][:15]
    lower = [int(i) for i in range(len(centroids)) if centroids[i][1] > 2000][:15]
    labels = [{'superpixel': i, 'categoryId': tumor['_id']} for i in upper] + [
        {'superpixel': i, 'categoryId': stroma['_id']} for i in lower]
    resp = boundServer.request(path + '/label', method='PUT', user=admin, type='application/json',
                               body=json.dumps({'itemId': str(slide['itemId']), 'labels': labels}))
    assertStatusOk(resp)

    resp = boundServer.request(path + '/train', method='POST', user=admin)
    assertStatusOk(resp)
    # labeling goes on while the epoch trains; the epoch keeps the labels it was started with
    assert boundServer.request(path + '/status', user=admin).json['training']['status'] == 'running'
    middle = next(int(i) for i in range(len(centroids)) if 1000 < centroids[i][1] < 2000)
    during = boundServer.request(path + '/label', method='PUT', user=admin, type='application/json',
                                 body=json.dumps({'itemId': str(slide['itemId']), 'labels': [
                                     {'superpixel': middle, 'categoryId': tumor['_id']}]}))
    assertStatusOk(during)
    job = wait_for_job(resp.json['_id'])
    assert job['status'] == 3, ''.join(job['log'])
    status = boundServer.request(path + '/status', user=admin).json
    assert status['epoch'] == 1 and status['training']['status'] == 'done'
    assert status['model']['labels'] == 30 and status['model']['fileId']
    assert status['slides'][0]['predictedEpoch'] == 1

    batch = boundServer.request(path + '/next', user=admin, params={'limit': 10}).json
    assert len(batch) == 10
    assert not {b['superpixel'] for b in batch} & set(upper + lower + [middle])  # my labels are not asked again
    assert {b['categoryId'] for b in batch} <= {tumor['_id'], stroma['_id']}
    assert status['model']['strategy'] == 'batchbald'  # the default: its 20 picks head the ranking
    after_head = boundServer.request(path + '/next', user=admin, params={'limit': 10, 'offset': 20}).json
    certainties = [b['certainty'] for b in after_head]
    assert len(certainties) == 10 and certainties == sorted(certainties)  # then by BALD: most informative first
    predictions = boundServer.request(path + '/slide/%s/predictions' % slide['itemId'], user=admin).json
    assert len(predictions['predicted']) == slide['superpixelCount']
    assert Project().load(project['_id'], force=True)['trainingEpoch'] == 1

    # HistomicsUI sees the epoch's predictions, and the labels once refreshed, as pixelmaps
    from girder_large_image_annotation.models.annotation import Annotation

    resp = boundServer.request(path + '/annotations', method='POST', user=admin)
    assertStatusOk(resp)
    ids = resp.json[str(slide['itemId'])]
    labels = Annotation().load(ids['labels'], force=True)['annotation']
    element = labels['elements'][0]
    assert labels['name'] == 'Study: labels' and element['type'] == 'pixelmap'
    assert element['girderId'] == str(slide['segmentation']['labelItemId'])
    assert [c['label'] for c in element['categories']] == ['unlabeled', 'Tumor', 'Stroma']
    assert [element['values'][i] for i in upper[:3] + lower[:3]] == [1, 1, 1, 2, 2, 2]
    assert element['values'][middle] == 1 and sum(1 for v in element['values'] if v) == 31
    shown = Annotation().load(ids['predictions'], force=True)['annotation']
    assert shown['attributes']['histomicsLabel']['epoch'] == 1
    assert shown['elements'][0]['values'] == [v + 1 for v in predictions['predicted']]

    # the TrainAndPredict CLI in Girder mode (as slicer_cli_web runs it, with an API URL and a token)
    import subprocess
    import sys

    from girder.models.token import Token

    from histomics_label.jobs.cli_catalog import cli_script

    result = subprocess.run([
        sys.executable, cli_script('TrainAndPredict'), '--project-id', str(project['_id']),
        '--api-url', 'http://127.0.0.1:%d/api/v1' % boundServer.boundPort,
        '--girder-token', str(Token().createToken(admin)['_id']), '--mc-samples', '4'],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    status = boundServer.request(path + '/status', user=admin).json
    assert status['epoch'] == 2 and status['training']['status'] == 'done' and status['model']['labels'] == 31
    assert len(boundServer.request(path + '/next', user=admin, params={'limit': 5}).json) == 5
    quality = boundServer.request(path + '/quality', user=admin).json  # posted by the CLI after publishing
    assert 'Published epoch 2; cross-validated macro-F1 ' in result.stdout
    assert quality['current']['epoch'] == 2 and quality['current']['labels'] == 31
    assert [point['epoch'] for point in quality['curve']] == [1, 2]


@pytest.mark.plugin('histomics_label')
def test_an_unreachable_broker_is_a_503_and_leaves_no_pending_job(server, slide_item, admin):
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job
    from girder_worker.app import app

    from conftest import free_port

    previous = app.conf.broker_url
    use_broker(app, 'redis://127.0.0.1:%d/0' % free_port())  # nothing listens there
    try:
        resp = server.request('/histomics_label/slide/%s/tissue_detection' % slide_item['_id'], method='POST',
                              user=admin)
    finally:
        use_broker(app, previous)
    assert resp.status.startswith('503') and 'job queue is unreachable' in resp.json['message'], resp.json
    # either no job was created, or the one created before the publish failed says why
    for job in Job().find({}):
        assert job['status'] == JobStatus.ERROR
        assert 'Could not queue the job' in ''.join(Job().load(job['_id'], force=True, includeLog=True)['log'])


@pytest.mark.plugin('histomics_label')
def test_a_uni_project_whose_weights_are_missing_shows_why_features_failed(boundServer, worker, project, admin):
    """The project's weightsPath reaches the features CLI on the worker; absent weights fail that job with a
    clear error on the slide, never a download."""
    from histomics_label.models.project import Project

    path = '/histomics_label/project/%s' % project['_id']
    settings = {'backbone': 'uni', 'weightsPath': '/nonexistent/uni/pytorch_model.bin'}
    resp = boundServer.request(path, method='PUT', user=admin, params={'settings': json.dumps(settings)})
    assertStatusOk(resp)
    assert Project().load(project['_id'], force=True)['settings']['weightsPath'] == settings['weightsPath']
    assertStatusOk(boundServer.request(path + '/segment', method='POST', user=admin))
    slide = wait_for_stage(project['_id'], 'features')
    assert slide['segmentation']['status'] == 'done'
    assert slide['features']['status'] == 'error'
    assert slide['features']['error'] == (
        'FileNotFoundError: backbone uni: weights not found at /nonexistent/uni/pytorch_model.bin')
