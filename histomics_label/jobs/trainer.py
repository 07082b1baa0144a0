"""The resident trainer: a girder_worker (Celery) task that trains an embedding project's epoch from features
kept in memory between epochs.

The worker process keeps a module-level :class:`..core.feature_cache.FeatureCache`: each slide's features file
is downloaded and converted (by default to bfloat16 on CPUs with AMX, else float16) the first time an epoch
needs it, then reused until the LRU byte budget evicts it. A worker with a solo pool (``celery worker -P
solo``) keeps one cache across tasks; a restarted worker starts empty and rebuilds it on the next epoch (and
imports every model backend after that epoch: :func:`import_model_backends`). Everything else goes through the
API like the TrainAndPredict CLI: the epoch's manifest (``GET project/{id}/epoch/{n}``), the predictions and
model uploaded to the data folder and published (``POST project/{id}/epoch/{n}/predictions``), then the
epoch's cross-validated quality (``POST project/{id}/epoch/{n}/quality``). Labels live only on the server, so
a crash anywhere here loses none; the job fails with the error and the next trigger trains again.

Imports nothing from the Girder server: it runs in the worker process.
"""
import contextlib
import importlib
import io
import json
import os
import shutil
import tempfile
import time

import numpy as np
from girder_worker.app import app

from .epoch_quality import macro_f1_text, post_quality
from ..core.feature_blocks import FeatureBlocks
from ..core.feature_cache import FeatureCache
from ..core.features.store import read_features
from ..core.training import train_and_predict

MC_SAMPLES = 20
#: the model backends' modules, imported by the trainer once its first epoch is out rather than by the first
#: epoch of a kind that needs them (scikit-learn's logistic regression took ~1 s of a worker's first logistic
#: epoch); not when a worker starts: workers that run CLIs never need them (~320 MB, ~2.7 s)
PRELOADED = ('torch', 'sklearn.linear_model')
_cache = None


def import_model_backends():
    """Import :data:`PRELOADED` (those installed; a lookup once imported)."""
    for name in PRELOADED:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def feature_cache(budget_bytes, dtype):
    """This process's cache, (re)configured with the site's budget and dtype."""
    global _cache
    if _cache is None:
        _cache = FeatureCache(budget_bytes, dtype)
    else:
        _cache.configure(budget_bytes, dtype)
    return _cache


def drop_cache():
    """Forget every cached feature (what a worker restart does)."""
    global _cache
    _cache = None


class Report:
    """Progress and log lines to the Girder job (when there is one)."""

    def __init__(self, job_manager=None):
        self.manager = job_manager

    def progress(self, fraction, message):
        """Send a stage mark at once: girder_worker holds back updates less than 0.5 s after the previous
        one until the next, so without the flush a toast showed 70% through publishing and cross-validation."""
        if self.manager:
            self.manager.updateProgress(total=100, current=round(100 * fraction, 1), message=message,
                                        forceFlush=True)

    def log(self, line):
        if self.manager:
            self.manager.write(line + '\n')


class TrainerOutOfMemory(RuntimeError):
    """An epoch ran out of memory. Celery stops a worker on a MemoryError; the trainer empties its cache and
    fails only the epoch instead, so the worker takes the next one."""


@app.task(bind=True, name='histomics_label.train_epoch')
def train_epoch(self, project_id, epoch, options):
    """Train and publish reserved epoch ``epoch`` of project ``project_id`` (see :func:`run_epoch`)."""
    try:
        return run_epoch(self.girder_client, project_id, epoch, options,
                         Report(getattr(self, 'job_manager', None)))
    except MemoryError as exc:
        drop_cache()
        raise TrainerOutOfMemory('%s (the feature cache was emptied; lower %s or give the trainer more memory)'
                                 % (exc or 'out of memory', 'histomics_label.trainer_cache_bytes')) from exc


def run_epoch(client, project_id, epoch, options, report=None):
    """Fetch the epoch's manifest, get features from the cache (downloading what it lacks), train, predict,
    rank, publish, then post the epoch's quality. ``options``: ``mcSamples``, ``cacheBytes``, ``cacheDtype``.
    Returns the seconds spent per step."""
    report = report or Report()
    timings, start = {}, time.perf_counter()
    path = 'histomics_label/project/%s' % project_id
    manifest = client.get('%s/epoch/%d' % (path, epoch))
    timings['manifest'] = time.perf_counter() - start
    features, loaded = _features(client, manifest, options, report)
    timings['features'] = time.perf_counter() - start - timings['manifest']
    info = {}
    arrays, model = train_and_predict(
        features, manifest['labels'], manifest['categories'], excluded=manifest.get('excluded', []),
        model_kind=manifest['modelKind'], backend=manifest.get('modelBackend') or None,
        strategy=manifest['strategy'], mc_samples=options.get('mcSamples', MC_SAMPLES),
        seed=manifest.get('seed', 0), timings=timings, info=info)
    if info['note']:
        report.log(info['note'])
    report.progress(0.7, 'Trained on %d labels; predicted %d superpixels; ranked by %s' % (
        model.training_size, features.n, info['strategy']))
    mark = time.perf_counter()
    upload = _publish(client, path, manifest, arrays, model, info['strategy'])
    timings['publish'] = time.perf_counter() - mark
    timings['visible'] = time.perf_counter() - start
    report.progress(0.85, 'Published epoch %d; cross-validating its quality' % epoch)
    client.delete('item/%s' % upload['itemId'])  # stored in the database now; an upload per epoch would pile up
    mark = time.perf_counter()
    quality = post_quality(client, project_id, manifest, features, report.log)
    timings['quality'] = time.perf_counter() - mark
    report.log('Epoch %d: %d superpixels (%d slides, %d features files loaded, %d cached, as %s), %d labels; %s' % (
        epoch, features.n, len(manifest['slides']), loaded, len(manifest['slides']) - loaded, _cache.dtype,
        len(manifest['labels']), ', '.join('%s %.3f s' % item for item in timings.items())))
    report.progress(1, 'Epoch %d published; cross-validated macro-F1 %s' % (epoch, macro_f1_text(quality)))
    import_model_backends()  # off the label -> ranking path: the epoch and its quality are posted
    return timings


def _features(client, manifest, options, report):
    """The manifest's slides as FeatureBlocks from the cache; returns (features, files loaded)."""
    cache = feature_cache(int(options['cacheBytes']), options['cacheDtype'])
    keys = [slide['fileId'] for slide in manifest['slides']]
    blocks, loaded = {}, 0
    for count, slide in enumerate(manifest['slides']):
        misses = cache.misses
        blocks[slide['index']] = cache.get(slide['fileId'], lambda: _download(client, slide['fileId']), keys)
        if cache.misses > misses:
            loaded += 1
            report.progress(0.5 * (count + 1) / len(keys), 'Loaded the features of slide %d' % slide['index'])
    if cache.over_budget:
        report.log('The features of this project (%d bytes) exceed the cache budget (%d bytes): they are kept '
                   'while it trains and evicted by the next project.' % (cache.nbytes, cache.budget))
    return FeatureBlocks(blocks), loaded


def _download(client, file_id):
    """(ids, values) of a features file in Girder."""
    workdir = tempfile.mkdtemp(prefix='histomics_label_features_')
    try:
        path = os.path.join(workdir, 'features.h5')
        client.downloadFile(file_id, path)
        ids, values, _ = read_features(path)
        return ids, values
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _publish(client, path, manifest, arrays, model, strategy):
    """Upload the predictions (compact dtypes) and the model to the data folder, then publish the epoch (its
    model summary naming the ``strategy`` that ranked it); returns the predictions' file."""
    rows = len(arrays['superpixel'])
    index_type = np.int32 if rows < 2 ** 31 and arrays['superpixel'].max(initial=0) < 2 ** 31 else np.int64
    buffer = io.BytesIO()
    np.savez(buffer, category_ids=np.array(manifest['categories']),
             slide_index=arrays['slide_index'].astype(np.int32), superpixel=arrays['superpixel'].astype(index_type),
             predicted=arrays['predicted'].astype(np.uint16), probabilities=arrays['probabilities'].astype(np.float16),
             certainty=arrays['certainty'].astype(np.float32), ranking=arrays['ranking'].astype(index_type))
    size = buffer.tell()
    buffer.seek(0)
    epoch = manifest['epoch']
    predictions = client.uploadStreamToFolder(manifest['dataFolderId'], buffer, 'epoch %d predictions.npz' % epoch,
                                              size, mimeType='application/octet-stream')
    workdir = tempfile.mkdtemp(prefix='histomics_label_model_')
    try:
        model_path = os.path.join(workdir, 'epoch %d model.npz' % epoch)
        model.save(model_path)
        model_file = client.uploadFileToFolder(manifest['dataFolderId'], model_path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    client.post('%s/epoch/%d/predictions' % (path, epoch), parameters={
        'fileId': predictions['_id'], 'modelFileId': model_file['_id'],
        'model': json.dumps(dict(manifest['model'], strategy=strategy))})
    return predictions
