"""The resident trainer through the real worker: epochs as Girder jobs from features cached between epochs,
coalesced triggers, eviction within the cache budget, recovery from a crashed or vanished trainer, and the
quality endpoint checked against scikit-learn.

Projects are synthetic: slides are items marked as large images with a grid of superpixels, and features
files are written here (four clusters, category = superpixel id % 4), so every answer can be recomputed.
"""
import io
import json
import os
import threading
import time

import numpy as np
import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

from test_api_shapes import documented_examples
from test_jobs import wait_for_job, worker  # noqa: F401 (the fixture)

from histomics_label.core.feature_cache import resolve_dtype

DIM = 16
CATEGORIES = ('Tumor', 'Stroma', 'Fat', 'Necrosis')


def synthetic_features(slide_index, count, seed=0):
    rng = np.random.default_rng([seed, slide_index])
    centres = np.random.default_rng(seed).normal(0, 3, (4, DIM))
    ids = rng.permutation(count)
    return ids, (centres[ids % 4] + rng.normal(0, 1, (count, DIM))).astype(np.float32)


def make_project(admin, name, sizes, tmp_path, seed=0):
    """A project on a new folder with one synthetic slide per entry of ``sizes`` (superpixel counts), each
    segmented and featurized; returns (project, {slide index: (ids, features)}, category ids)."""
    from girder.models.collection import Collection
    from girder.models.folder import Folder
    from girder.models.item import Item
    from girder.models.upload import Upload

    from histomics_label.core.features.store import write_features
    from histomics_label.jobs.pipeline import ingest_features
    from histomics_label.models.category import Category
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    collection = Collection().findOne({'name': 'Synthetic'}) or Collection().createCollection(
        'Synthetic', admin, public=True)
    folder = Folder().createFolder(collection, name, parentType='collection', public=True, creator=admin)
    for number in range(len(sizes)):
        stub = Upload().uploadFromFile(io.BytesIO(b'slide'), 5, 'slide%d.svs' % number, parentType='folder',
                                       parent=folder, user=admin)
        item = Item().load(stub['itemId'], force=True)
        item['largeImage'] = {'fileId': stub['_id'], 'sourceName': 'openslide'}
        Item().save(item)
    project = Project().create(folder, admin, name)
    ProjectSlide().sync(project, folder)
    data_folder = Project().data_folder(project, admin)
    features = {}
    for slide, count in zip(ProjectSlide().list(project), sizes):
        grid = np.array([(i % 50, i // 50) for i in range(count)], dtype=float) * 20 + 10
        slide = SuperpixelGeometry().store(slide, grid, np.hstack([grid - 10, grid + 10]))
        ids, values = features[slide['index']] = synthetic_features(slide['index'], count, seed)
        path = str(tmp_path / ('%s-%d.h5' % (name, slide['index'])))
        write_features(path, ids, values, 'embedding', backbone='synthetic')
        with open(path, 'rb') as f:
            file = Upload().uploadFromFile(f, os.path.getsize(path), os.path.basename(path), parentType='folder',
                                           parent=data_folder, user=admin)
        ingest_features(project, slide, {'outputFeatures': {'fileId': file['_id']}}, admin)
    category_ids = [str(Category().create(project, category)['_id']) for category in CATEGORIES]
    return Project().load(project['_id'], force=True), features, category_ids


def label(server, user, project, slide_item_id, superpixels, category_ids, expect_job=None):
    body = {'itemId': str(slide_item_id), 'labels': [
        {'superpixel': int(s), 'categoryId': category_ids[int(s) % 4]} for s in superpixels]}
    resp = server.request('/histomics_label/project/%s/label' % project['_id'], method='PUT', user=user,
                          type='application/json', body=json.dumps(body))
    assertStatusOk(resp)
    return resp.json


def slide_items(project):
    from histomics_label.models.slide import ProjectSlide

    return {s['index']: s['itemId'] for s in ProjectSlide().list(project)}


def train(server, user, project):
    resp = server.request('/histomics_label/project/%s/train' % project['_id'], method='POST', user=user)
    assertStatusOk(resp)
    return resp.json


def status(server, user, project):
    return server.request('/histomics_label/project/%s/status' % project['_id'], user=user).json


def expected_epoch(project, features, dtype='auto'):
    """The epoch the trainer should have computed: its stored manifest through the core, on the features
    as a cache of ``dtype`` holds them (the site's default, auto, is the trainer's; float32 is what the CLI
    reads)."""
    from girder.models.file import File

    from histomics_label.core.feature_blocks import FeatureBlocks
    from histomics_label.core.feature_cache import FeatureCache
    from histomics_label.core.training import labeled_quality, train_and_predict
    from histomics_label.models.project import Project

    project = Project().load(project['_id'], force=True)
    with File().open(File().load(project['training']['manifestFileId'], force=True)) as stream:
        manifest = json.loads(stream.read())
    cache = FeatureCache(10 ** 9, dtype)
    blocks = FeatureBlocks({index: cache.get(index, lambda pair=pair: pair) for index, pair in features.items()})
    args = dict(model_kind=manifest['modelKind'], seed=manifest['seed'])
    arrays, _ = train_and_predict(blocks, manifest['labels'], manifest['categories'], manifest['excluded'],
                                  strategy=manifest['strategy'], mc_samples=20, **args)
    quality = labeled_quality(blocks, manifest['labels'], manifest['categories'], manifest['excluded'], **args)
    return manifest, arrays, quality


def stored_predictions(project, slide):
    from histomics_label.models.prediction import Prediction
    from histomics_label.models.project import Project

    return Prediction().slide_arrays(Project().load(project['_id'], force=True), slide)


def labeled_two_slide_project(server, admin, name, sizes, counts, tmp_path):
    """A project of two synthetic slides whose first ``counts[i]`` superpixels of slide i are labeled;
    returns (project, features, category ids, slide items)."""
    project, features, category_ids = make_project(admin, name, sizes, tmp_path)
    items = slide_items(project)
    for index, count in enumerate(counts):
        label(server, admin, project, items[index], range(0, count), category_ids)
    return project, features, category_ids, items


def check_first_quality(server, admin, project, manifest, quality):
    """``GET quality`` of a project whose first epoch was just measured holds exactly ``quality`` (the core's
    cross-validation of ``manifest``); returns the response."""
    resp = server.request('/histomics_label/project/%s/quality' % project['_id'], user=admin)
    assertStatusOk(resp)
    current, labels = resp.json['current'], len(manifest['labels'])
    assert current['epoch'] == 1 and current['labels'] == labels and current['evaluated'] == labels
    assert current['folds'] == 5 and current['method'] == 'cross-validation'
    assert current['categoryIds'] == [manifest['categories'][c] for c in quality['classes']]
    assert current['confusion'] == quality['confusion']
    assert current['accuracy'] == pytest.approx(quality['accuracy'])
    assert current['macroF1'] == pytest.approx(quality['macroF1'])
    assert resp.json['curve'] == [{'epoch': 1, 'labels': labels, 'accuracy': current['accuracy'],
                                   'macroF1': current['macroF1']}]
    return resp


@pytest.fixture
def trainer_cache():
    from histomics_label.jobs import trainer

    trainer.drop_cache()
    yield trainer
    trainer.drop_cache()


@pytest.mark.plugin('histomics_label')
def test_an_epoch_on_the_resident_trainer(boundServer, worker, admin, tmp_path, trainer_cache,  # noqa: F811
                                          fsAssetstore, monkeypatch):
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job

    from histomics_label.models.slide import ProjectSlide

    project, features, _, items = labeled_two_slide_project(boundServer, admin, 'resident', (300, 200), (40, 24),
                                                            tmp_path)
    imports = []
    monkeypatch.setattr(trainer_cache, 'import_model_backends', lambda: imports.append('after the epoch'))
    job = train(boundServer, admin, project)
    assert job['type'] == 'histomics_label.resident_trainer'
    assert Job().load(job['_id'], force=True)['histomicsLabel'] == {
        'projectId': str(project['_id']), 'stage': 'training', 'epoch': 1, 'trainer': 'resident'}
    job = wait_for_job(job['_id'])
    log = ''.join(job['log'])
    assert job['status'] == JobStatus.SUCCESS, log
    assert imports == ['after the epoch']
    assert '500 superpixels (2 slides, 2 features files loaded, 0 cached, as %s), 64 labels' % (
        resolve_dtype('auto')) in log
    assert job['progress']['current'] == 100
    state = status(boundServer, admin, project)
    assert state['epoch'] == 1 and state['training']['status'] == 'done'
    assert state['model']['labels'] == 64 and state['model']['fileId']
    from girder.models.item import Item

    from histomics_label.models.project import Project

    data_items = {i['name'] for i in Item().find({'folderId': Project().data_folder(project, admin)['_id']})}
    assert {'epoch 1 manifest.json', 'epoch 1 model.npz'} <= data_items  # the uploaded predictions are gone
    assert 'epoch 1 predictions.npz' not in data_items

    manifest, expected, quality = expected_epoch(project, features)
    for slide in ProjectSlide().list(project):
        predicted, probabilities, certainty, columns = stored_predictions(project, slide)
        rows = np.flatnonzero(expected['slide_index'] == slide['index'])
        rows = rows[np.argsort(expected['superpixel'][rows])]
        assert [str(c) for c in columns] == manifest['categories']
        assert (predicted == expected['predicted'][rows]).mean() > 0.99
        assert np.allclose(certainty, expected['certainty'][rows], atol=2e-3)
        truth = np.arange(len(rows)) % 4
        assert (predicted == truth).mean() > 0.95
    # the default strategy: BatchBALD's picks head the queue, then the rest by BALD (certainty = minus BALD)
    assert manifest['strategy'] == state['model']['strategy'] == 'batchbald'
    batch = boundServer.request('/histomics_label/project/%s/next' % project['_id'], user=admin,
                                params={'limit': 30}).json
    assert len(batch) == 30 and all(b['superpixel'] >= (40 if b['itemId'] == str(items[0]) else 24)
                                    for b in batch)
    head = [(str(items[expected['slide_index'][row]]), int(expected['superpixel'][row]))
            for row in expected['ranking'][:20]]
    assert [(b['itemId'], b['superpixel']) for b in batch[:20]] == head
    assert [b['certainty'] for b in batch[20:]] == sorted(b['certainty'] for b in batch[20:])

    # the epoch's quality, as the core computes it, with metrics equal to scikit-learn's
    resp = check_first_quality(boundServer, admin, project, manifest, quality)
    current = resp.json['current']
    assert resp.json['stop']['flat'] is False and resp.json['epoch'] == 1
    documented = documented_examples()['Model quality']  # docs/api.md shows exactly these keys
    assert set(resp.json) == set(documented) and set(current) == set(documented['current'])
    assert set(resp.json['curve'][0]) == set(documented['curve'][0])
    assert set(resp.json['stop']) == set(documented['stop'])


@pytest.mark.plugin('histomics_label')
def test_a_kind_without_mc_dropout_ranks_by_margin_and_says_so(boundServer, worker, admin, tmp_path,  # noqa: F811
                                                               trainer_cache, fsAssetstore):
    """BatchBALD (the default) needs MC-dropout samples; logistic regression has none: the epoch ranks by
    margin, its job log says why, and the project's model names the strategy that ranked it."""
    from girder_jobs.constants import JobStatus

    from histomics_label.core.acquisition import certainty
    from histomics_label.models.project import Project

    project, features, category_ids = make_project(admin, 'no-mc', (300,), tmp_path)
    project = Project().update_settings(project, {'modelKind': 'logistic'})
    assert project['settings']['certaintyMetric'] == 'batchbald'
    label(boundServer, admin, project, slide_items(project)[0], range(0, 40), category_ids)
    job = wait_for_job(train(boundServer, admin, project)['_id'])
    log = ''.join(job['log'])
    assert job['status'] == JobStatus.SUCCESS, log
    assert ('Strategy batchbald needs MC-dropout samples and model kind logistic has no dropout: ranked by '
            'margin instead.') in log
    state = status(boundServer, admin, project)
    assert state['model']['strategy'] == 'margin'
    assert Project().load(project['_id'], force=True)['settings']['certaintyMetric'] == 'batchbald'
    batch = boundServer.request('/histomics_label/project/%s/next' % project['_id'], user=admin,
                                params={'limit': 20}).json
    margins = [b['certainty'] for b in batch]
    assert margins == sorted(margins)  # smallest margin first
    _, expected, _ = expected_epoch(project, features)
    assert np.allclose(expected['certainty'], certainty(expected['probabilities'], 'margin'), atol=1e-6)
    first = expected['ranking'][0]
    assert (batch[0]['superpixel'], batch[0]['certainty']) == (
        expected['superpixel'][first], pytest.approx(float(expected['certainty'][first]), abs=2e-3))


@pytest.mark.plugin('histomics_label')
def test_an_epoch_trained_as_a_train_and_predict_job_gets_its_quality(boundServer, worker, admin,  # noqa: F811
                                                                        tmp_path, fsAssetstore):
    """With the resident trainer off, the TrainAndPredict CLI job publishes the epoch and then posts the same
    cross-validated quality the resident trainer would (core/quality.py through labeled_quality)."""
    from girder.models.setting import Setting
    from girder_jobs.constants import JobStatus

    from histomics_label.settings import RESIDENT_TRAINER

    Setting().set(RESIDENT_TRAINER, False)
    project, features, _, _ = labeled_two_slide_project(boundServer, admin, 'job-quality', (200, 150), (30, 18),
                                                        tmp_path)
    job = train(boundServer, admin, project)
    assert job['type'] == 'histomics_label.TrainAndPredict'
    job = wait_for_job(job['_id'])
    log = ''.join(job['log'])
    assert job['status'] == JobStatus.SUCCESS, log
    assert 'Published epoch 1; cross-validated macro-F1' in log
    state = status(boundServer, admin, project)
    assert state['epoch'] == 1 and state['model']['strategy'] == 'batchbald' and state['model']['labels'] == 48
    manifest, _, quality = expected_epoch(project, features, 'float32')  # the CLI reads float32 features
    assert len(manifest['labels']) == 48
    check_first_quality(boundServer, admin, project, manifest, quality)


def test_the_train_and_predict_cli_says_when_it_falls_back_from_batchbald(tmp_path):
    """The job path's CLI (local mode here) ranks a kind without MC dropout by margin and says so in its
    output, which becomes the job's log."""
    import subprocess
    import sys

    from histomics_label.core.features.store import write_features
    from histomics_label.jobs.cli_catalog import cli_script

    ids, values = synthetic_features(0, 120)
    write_features(str(tmp_path / 'slide0.h5'), ids, values, 'embedding', backbone='synthetic')
    manifest = tmp_path / 'manifest.json'
    manifest.write_text(json.dumps({
        'categories': list(CATEGORIES), 'excluded': [], 'slides': [{'index': 0, 'features': 'slide0.h5'}],
        'labels': [[0, i, i % 4] for i in range(24)], 'modelKind': 'logistic', 'strategy': 'batchbald', 'epoch': 1}))
    result = subprocess.run([sys.executable, cli_script('TrainAndPredict'), '--manifest', str(manifest),
                             '--features-directory', str(tmp_path), '--predictions', str(tmp_path / 'p.npz'),
                             '--model', str(tmp_path / 'm.npz')], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ('Strategy batchbald needs MC-dropout samples and model kind logistic has no dropout: ranked by margin '
            'instead.') in result.stdout
    assert 'Trained on 24 labels; predicted 120 superpixels; ranked by margin' in result.stdout
    predictions = np.load(tmp_path / 'p.npz')
    unlabeled = predictions['ranking'][:96]
    assert np.all(np.diff(predictions['certainty'][unlabeled]) >= 0)  # smallest margin first


@pytest.mark.plugin('histomics_label')
def test_new_projects_default_to_batchbald_and_existing_ones_keep_theirs(server, admin, tmp_path, fsAssetstore):
    from histomics_label.models.project import Project

    project, _, _ = make_project(admin, 'default', (10,), tmp_path)
    assert project['settings']['certaintyMetric'] == 'batchbald'
    # a project created before the default changed stored the old default with its settings
    Project().update({'_id': project['_id']}, {'$set': {'settings.certaintyMetric': 'confidence'}})
    resp = server.request('/histomics_label/project/%s' % project['_id'], method='PUT', user=admin,
                          params={'settings': json.dumps({'retrainInterval': 10})})
    assertStatusOk(resp)
    assert resp.json['settings']['certaintyMetric'] == 'confidence' and resp.json['settings']['retrainInterval'] == 10
    assert Project().load(project['_id'], force=True)['settings']['certaintyMetric'] == 'confidence'


@pytest.mark.plugin('histomics_label')
def test_the_quality_endpoint_agrees_with_scikit_learn(server, admin, labeler, tmp_path, fsAssetstore):
    """The route derives accuracy and macro-F1 from the posted confusion matrix exactly as scikit-learn
    computes them from the predictions behind it; bad posts are 400s that store nothing."""
    from sklearn.metrics import accuracy_score, f1_score

    from histomics_label.core.quality import confusion_matrix
    from histomics_label.models.project import Project
    from histomics_label.models.quality import EpochQuality

    project, _, category_ids = make_project(admin, 'quality', (60,), tmp_path)
    Project().update({'_id': project['_id']}, {'$set': {'trainingEpoch': 3}})
    rng = np.random.default_rng(7)
    path = '/histomics_label/project/%s' % project['_id']
    curve = []
    for epoch, labels in ((1, 40), (2, 80), (3, 120)):
        y_true = rng.integers(0, 3, labels)
        y_pred = np.where(rng.random(labels) < 0.5 + 0.1 * epoch, y_true, rng.integers(0, 3, labels))
        body = {'categoryIds': category_ids[:3], 'confusion': confusion_matrix(y_true, y_pred, 3).tolist(),
                'labels': labels, 'folds': 5}
        resp = server.request('%s/epoch/%d/quality' % (path, epoch), method='POST', user=admin,
                              type='application/json', body=json.dumps(body))
        assertStatusOk(resp)
        curve.append({'epoch': epoch, 'labels': labels, 'accuracy': accuracy_score(y_true, y_pred),
                      'macroF1': f1_score(y_true, y_pred, average='macro')})
    summary = server.request(path + '/quality', user=admin).json
    for got, want in zip(summary['curve'], curve):
        assert got['epoch'] == want['epoch'] and got['labels'] == want['labels']
        assert got['accuracy'] == pytest.approx(want['accuracy'], abs=1e-12)
        assert got['macroF1'] == pytest.approx(want['macroF1'], abs=1e-12)
    assert summary['current']['epoch'] == 3 and summary['current']['evaluated'] == 120
    assert summary['stop']['flat'] is False and 'Too few epochs' in summary['stop']['reason']

    good = {'categoryIds': category_ids[:2], 'confusion': [[3, 1], [0, 4]], 'labels': 8, 'folds': 5}
    bad = [
        (4, good, 'never reserved'),
        (1, dict(good, confusion=[[3, 1, 0], [0, 4, 0]]), '2 x 2'),
        (1, dict(good, labels=7), 'more than the 7 labels'),
        (1, dict(good, categoryIds=[category_ids[0], str(project['_id'])]), 'categories of the project'),
        (1, dict(good, confusion=[[3, -1], [0, 4]]), 'minimum'),
        (1, dict(good, folds=1), 'minimum'),
        (1, dict(good, extra=1), 'Additional properties'),
    ]
    for epoch, body, message in bad:
        resp = server.request('%s/epoch/%d/quality' % (path, epoch), method='POST', user=admin,
                              type='application/json', body=json.dumps(body))
        assertStatus(resp, 400)
        assert message in resp.json['message'], resp.json
    assert EpochQuality().find({'projectId': project['_id']}).count() == 3
    resp = server.request('%s/epoch/1/quality' % path, method='POST', user=labeler, type='application/json',
                          body=json.dumps(good))
    assertStatus(resp, 403)  # write access on the project folder is needed (the folder is public: read only)
    assertStatusOk(server.request(path + '/quality', user=labeler))


@pytest.mark.plugin('histomics_label')
def test_triggers_during_an_epoch_coalesce_into_one_follow_up(boundServer, worker, admin, tmp_path,  # noqa: F811
                                                              trainer_cache, monkeypatch, fsAssetstore):
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job

    from histomics_label.models.project import Project

    project, features, category_ids = make_project(admin, 'coalesce', (300,), tmp_path)
    Project().update_settings(project, {'retrainInterval': 5})
    project = Project().load(project['_id'], force=True)
    item = slide_items(project)[0]
    release, started = threading.Event(), threading.Event()
    real = trainer_cache.train_and_predict

    def held(*args, **kwargs):
        started.set()
        assert release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer_cache, 'train_and_predict', held)
    first = label(boundServer, admin, project, item, range(0, 20), category_ids)
    assert first['retrainJobId']  # 20 label changes >= the interval of 5: an epoch starts
    assert started.wait(60)
    # while it runs: label writes crossing the interval again, and explicit requests, start nothing new
    during = [label(boundServer, admin, project, item, range(start, start + 5), category_ids)
              for start in (20, 25, 30)]
    assert [d['retrainJobId'] for d in during] == [None, None, None]
    for _ in range(3):
        assert train(boundServer, admin, project)['_id'] == first['retrainJobId']
    assert Project().load(project['_id'], force=True)['training']['followUp'] is True
    assert Job().find({'type': 'histomics_label.resident_trainer'}).count() == 1
    release.set()

    first_job = wait_for_job(first['retrainJobId'])
    assert first_job['status'] == JobStatus.SUCCESS, ''.join(first_job['log'])
    follow_ups = []
    for _ in range(240):
        follow_ups = list(Job().find({'type': 'histomics_label.resident_trainer',
                                      '_id': {'$ne': first_job['_id']}}))
        if follow_ups:
            break
        time.sleep(0.25)
    assert len(follow_ups) == 1
    second = wait_for_job(follow_ups[0]['_id'])
    assert second['status'] == JobStatus.SUCCESS, ''.join(second['log'])
    assert second['histomicsLabel']['epoch'] == 2
    state = status(boundServer, admin, project)
    assert state['epoch'] == 2 and state['model']['labels'] == 35  # every label written during epoch 1
    assert '0 features files loaded, 1 cached' in ''.join(second['log'])  # the cache served epoch 2
    time.sleep(1)
    assert Job().find({'type': 'histomics_label.resident_trainer'}).count() == 2  # and nothing more
    assert not Project().load(project['_id'], force=True)['training'].get('followUp')


@pytest.mark.plugin('histomics_label')
def test_a_budget_smaller_than_two_projects_evicts_one_and_answers_correctly(
        boundServer, worker, admin, tmp_path, trainer_cache, fsAssetstore):  # noqa: F811
    from girder.models.setting import Setting

    from histomics_label.models.slide import ProjectSlide
    from histomics_label.settings import TRAINER_CACHE_BYTES

    first, _, first_categories = make_project(admin, 'first', (400, 300), tmp_path, seed=1)
    second, _, second_categories = make_project(admin, 'second', (500,), tmp_path, seed=2)
    one_project = 700 * DIM * 2 + 700 * 16  # 16-bit rows (the default, auto), ids and their order
    Setting().set(TRAINER_CACHE_BYTES, one_project + 2000)  # holds either project, never both
    for project, categories in ((first, first_categories), (second, second_categories)):
        for index, item in slide_items(project).items():
            label(boundServer, admin, project, item, range(0, 24), categories)

    def epoch(project):
        job = wait_for_job(train(boundServer, admin, project)['_id'])
        assert job['status'] == 3, ''.join(job['log'])
        return ''.join(job['log'])

    assert '2 features files loaded, 0 cached' in epoch(first)
    before = {s['index']: stored_predictions(first, s) for s in ProjectSlide().list(first)}
    assert '1 features files loaded, 0 cached' in epoch(second)
    cache = trainer_cache.feature_cache(one_project + 2000, 'auto')  # the site's default dtype
    assert cache.evictions == 2 and len(cache.keys()) == 1 and cache.nbytes <= cache.budget
    assert '2 features files loaded, 0 cached' in epoch(first)  # evicted, so loaded again
    assert cache.evictions == 3 and len(cache.keys()) == 2
    for slide in ProjectSlide().list(first):  # the same labels give the same answer after the reload
        again = stored_predictions(first, slide)
        assert np.array_equal(again[0], before[slide['index']][0])
        assert np.array_equal(again[2], before[slide['index']][2])
    assert status(boundServer, admin, first)['epoch'] == 2
    assert status(boundServer, admin, second)['epoch'] == 1


@pytest.mark.plugin('histomics_label')
def test_a_crashed_or_vanished_trainer_loses_no_label(boundServer, worker, admin, tmp_path,  # noqa: F811
                                                      trainer_cache, monkeypatch, fsAssetstore):
    import datetime

    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job
    from girder_worker.girder_plugin.status import CustomJobStatus

    from histomics_label.jobs import trainer_launch
    from histomics_label.models.label import Label
    from histomics_label.models.project import Project

    project, features, category_ids = make_project(admin, 'crash', (300,), tmp_path)
    item = slide_items(project)[0]
    label(boundServer, admin, project, item, range(0, 30), category_ids)

    def crash(*args, **kwargs):
        raise MemoryError('the trainer ran out of memory')

    monkeypatch.setattr(trainer_cache, 'train_and_predict', crash)
    job = wait_for_job(train(boundServer, admin, project)['_id'])
    assert job['status'] == JobStatus.ERROR
    state = status(boundServer, admin, project)
    assert state['training']['status'] == 'error'
    assert ('TrainerOutOfMemory: the trainer ran out of memory (the feature cache was emptied'
            in state['training']['error'])
    assert state['epoch'] == 0 and Label().find({'projectId': project['_id']}).count() == 30
    monkeypatch.undo()

    trainer_cache.drop_cache()  # a worker restart: the next epoch rebuilds the cache (the worker lives on)
    job = wait_for_job(train(boundServer, admin, project)['_id'])
    assert job['status'] == JobStatus.SUCCESS and '1 features files loaded, 0 cached' in ''.join(job['log'])
    assert status(boundServer, admin, project)['epoch'] == 2

    # a worker killed mid-epoch leaves its job running and silent: after STALE_AFTER seconds the next
    # trigger fails that epoch (labels untouched) and starts a new one
    silent = Job().createJob('Train epoch 3: crash', 'histomics_label.resident_trainer', user=admin,
                             otherFields={'histomicsLabel': {'projectId': str(project['_id']), 'stage': 'training',
                                                             'epoch': 3, 'trainer': 'resident'}})
    silent = Job().updateJob(Job().updateJob(silent, status=JobStatus.QUEUED), status=JobStatus.RUNNING)
    Project().update({'_id': project['_id']}, {'$set': {'trainingEpoch': 3, 'training': {
        'epoch': 3, 'status': 'running', 'jobId': silent['_id'], 'error': None,
        'started': datetime.datetime.now(datetime.timezone.utc)}}})
    assert train(boundServer, admin, project)['_id'] == str(silent['_id'])  # not stale yet: coalesced
    monkeypatch.setattr(trainer_launch, 'STALE_AFTER', 0)
    job = train(boundServer, admin, project)
    assert job['_id'] != str(silent['_id']) and Job().load(job['_id'], force=True)['histomicsLabel']['epoch'] == 4
    assert Job().load(silent['_id'], force=True)['status'] in (JobStatus.CANCELED, CustomJobStatus.CANCELING)
    job = wait_for_job(job['_id'])
    assert job['status'] == JobStatus.SUCCESS, ''.join(job['log'])
    state = status(boundServer, admin, project)
    assert state['epoch'] == 4 and state['training']['status'] == 'done' and state['model']['labels'] == 30
    assert Label().find({'projectId': project['_id']}).count() == 30


@pytest.mark.plugin('histomics_label')
def test_trainer_settings_have_defaults_and_refuse_bad_values(server, admin):
    from histomics_label import settings

    path = '/system/setting'
    for key, value in settings.TRAINER_DEFAULTS.items():
        resp = server.request(path, user=admin, params={'key': key})
        assertStatusOk(resp)
        assert resp.json == value
    for key, value in ((settings.RESIDENT_TRAINER, 'yes'), (settings.TRAINER_CACHE_BYTES, -1),
                       (settings.TRAINER_CACHE_BYTES, 1.5), (settings.TRAINER_CACHE_DTYPE, 'float64'),
                       (settings.TRAINER_QUEUE, 'bad queue!')):
        resp = server.request(path, method='PUT', user=admin, params={'key': key, 'value': json.dumps(value)})
        assertStatus(resp, 400)
        assert key in resp.json['message']
    resp = server.request(path, method='PUT', user=admin, params={'key': settings.TRAINER_QUEUE,
                                                                 'value': ' histomics_label.trainer '})
    assertStatusOk(resp)
    assert server.request(path, user=admin, params={'key': settings.TRAINER_QUEUE}).json == 'histomics_label.trainer'


@pytest.mark.plugin('histomics_label')
def test_an_epoch_of_a_million_superpixels_publishes(server, admin, tmp_path, fsAssetstore):
    """The predictions of a million superpixels (30 MB: more than a Girder file handle reads at once) are
    stored and served; checking the ranking takes no sort."""
    from girder.models.item import Item
    from girder.models.upload import Upload

    from histomics_label.models.category import Category
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    project, _, category_ids = make_project(admin, 'million', (10,), tmp_path)
    folder = Project().folder(project)
    per_slide, slides = 100000, 10
    for number in range(1, slides):
        item = Item().createItem('big%d.svs' % number, admin, folder)
        item['largeImage'] = {'fileId': item['_id']}
        Item().save(item)
    ProjectSlide().sync(project, folder)
    grid = np.column_stack([np.arange(per_slide) % 1000, np.arange(per_slide) // 1000]).astype(float)
    for slide in ProjectSlide().list(project):
        if slide['index']:
            SuperpixelGeometry().store(slide, grid, np.hstack([grid, grid + 1]))
    category_ids += [str(Category().create(project, name)['_id']) for name in ('A', 'B', 'C', 'D')]
    total = per_slide * (slides - 1) + 10
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(8), total).astype(np.float16)
    ranking = rng.permutation(total).astype(np.int32)
    arrays = {'category_ids': np.array(category_ids), 'slide_index': np.concatenate([
        np.zeros(10, np.int32), np.repeat(np.arange(1, slides), per_slide).astype(np.int32)]),
        'superpixel': np.concatenate([np.arange(10), np.tile(np.arange(per_slide), slides - 1)]).astype(np.int32),
        'predicted': probabilities.argmax(axis=1).astype(np.uint16), 'probabilities': probabilities,
        'certainty': probabilities.max(axis=1).astype(np.float32), 'ranking': ranking}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    assert buffer.tell() > 16 * 1024 ** 2  # Girder's default file handle limit
    file = Upload().uploadFromFile(io.BytesIO(buffer.getvalue()), buffer.tell(), 'big.npz', parentType='folder',
                                   parent=folder, user=admin)
    Project().update({'_id': project['_id']}, {'$set': {'trainingEpoch': 1}})
    path = '/histomics_label/project/%s' % project['_id']
    resp = server.request(path + '/epoch/1/predictions', method='POST', user=admin,
                          params={'fileId': str(file['_id'])})
    assertStatusOk(resp)
    batch = server.request(path + '/next', user=admin, params={'limit': 3}).json
    first = ranking[0]
    assert batch[0]['superpixel'] == arrays['superpixel'][first]
    assert batch[0]['certainty'] == pytest.approx(float(arrays['certainty'][first]), abs=1e-4)
    ranking[1] = ranking[0]  # a repeated row is still refused
    arrays['ranking'] = ranking
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    file = Upload().uploadFromFile(io.BytesIO(buffer.getvalue()), buffer.tell(), 'bad.npz', parentType='folder',
                                   parent=folder, user=admin)
    resp = server.request(path + '/epoch/2/predictions', method='POST', user=admin,
                          params={'fileId': str(file['_id'])})
    assertStatus(resp, 400)
    assert 'distinct prediction rows' in resp.json['message']


def test_the_model_backends_are_imported_by_the_trainer_not_by_a_starting_worker():
    """A starting worker (worker_ready) imports neither torch nor scikit-learn: workers that run CLIs never need
    them; the trainer imports them after an epoch (``import_model_backends``, checked in
    test_an_epoch_on_the_resident_trainer)."""
    import subprocess
    import sys

    code = ('import sys\n'
            'from celery.signals import worker_ready\n'
            'import histomics_label.jobs.trainer as trainer\n'
            'worker_ready.send(sender=None)\n'
            'before = [name in sys.modules for name in trainer.PRELOADED]\n'
            'trainer.import_model_backends()\n'
            'print(before, [name in sys.modules for name in trainer.PRELOADED])\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split('\n')[-2] == '[False, False] [True, True]'
