"""One training epoch over a whole project: fit on the labeled superpixels' features, predict every
superpixel of every slide, score certainty, and rank what to label next with the acquisition strategy.

The output arrays are what the server stores per epoch (see ``models/prediction.py``): rows are
superpixels, ``predicted`` indexes ``categories`` (all of the project's categories, excluded ones never
predicted), and ``ranking`` lists rows in acquisition order: unlabeled superpixels first.

Memory stays near the size of the features themselves: they are read in place, slide block by slide block
(:mod:`.feature_blocks`), predicted ``PREDICT_ROWS`` at a time, and only each row's mean probabilities and
certainty are kept (MC samples live for one block).
"""
import concurrent.futures
import contextlib
import os
import time

import numpy as np

from .acquisition import CERTAINTY_METRICS, rank
from .classifiers import make_classifier
from .feature_blocks import FeatureBlocks
from .quality import MAX_FOLDS, epoch_quality

#: strategies that cannot rank a million items at once pick this many, the rest follow by certainty. BatchBALD
#: picks one batch of the active-learning benchmark (20, more than the film strip's page of 12): its greedy
#: picks do not depend on how many are asked for, so these are the first 20 of any longer BatchBALD ranking, at
#: ~0.3 s of CPU instead of ~1.6 s for 100 (docs/benchmarks.md, "Retraining")
EXPENSIVE_TOP = {'batchbald': 20, 'coreset': 2000, 'class_balanced': 2000}
#: candidates an expensive strategy chooses from on a large project: BatchBALD the highest-BALD ones (its
#: greedy joint costs O(candidates) per pick), coreset a seeded random sample (it needs their embeddings)
CANDIDATE_POOL = {'batchbald': 1000, 'coreset': 5000}
PREDICT_ROWS = 16384
#: what ranks instead of a strategy that needs MC-dropout samples when the model gives none (the active-learning
#: benchmark's best cheap strategy)
NO_MC_FALLBACK = 'margin'


def train_and_predict(slides, labels, categories, excluded=(), model_kind='mlp', backend=None,
                      strategy='confidence', mc_samples=20, seed=0, model_params=None, timings=None, threads=None,
                      info=None):
    """Train a classifier and predict every superpixel.

    :param slides: ``{slide_index: (ids, X)}``: superpixel ids and their features (embeddings or patches),
        or a :class:`.feature_blocks.FeatureBlocks`.
    :param labels: ``(n, 3)`` rows of (slide index, superpixel id, category index into ``categories``).
    :param timings: a dict that receives the seconds spent to ``fit``, ``predict`` and ``rank``.
    :param threads: blocks of superpixels predicted at once (numpy and torch release the GIL; results do
        not depend on it); default: one per core.
    :param info: a dict that receives ``strategy``, the strategy that ranked the epoch, and ``note``, a
        sentence saying why it is not ``strategy`` (None when it is).
    :returns: ``(arrays, model)``; ``arrays`` has slide_index, superpixel, predicted, probabilities,
        certainty and ranking.
    """
    features = slides if isinstance(slides, FeatureBlocks) else FeatureBlocks.from_slides(slides)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1, 3)
    if not len(labels):
        raise ValueError('no labels to train on')
    rows = features.rows(labels[:, :2])
    timings = {} if timings is None else timings
    model = make_classifier(model_kind, backend, categories=list(categories), excluded=list(excluded),
                            seed=seed, **(model_params or {}))
    with _timed(timings, 'fit'):
        model.fit(features.take(rows), labels[:, 2])
    strategy, mc_samples, note = ranking_strategy(strategy, model, model_kind, mc_samples)
    if info is not None:
        info.update(strategy=strategy, note=note)
    with _timed(timings, 'predict'):
        mean, certainty = predict_all(model, features, strategy if strategy in CERTAINTY_METRICS else 'confidence',
                                      mc_samples, threads or os.cpu_count() or 1)
    with _timed(timings, 'rank'):
        ranking = acquisition_order(strategy, model, features, mean, certainty, rows, seed, mc_samples)
    full = model.mapping.expand(mean)
    arrays = {
        'slide_index': features.slide_index, 'superpixel': features.superpixel, 'predicted': full.argmax(axis=1),
        'probabilities': full, 'certainty': certainty.astype(np.float32), 'ranking': ranking}
    return arrays, model


def ranking_strategy(strategy, model, model_kind, mc_samples):
    """``(strategy, mc_samples, note)`` an epoch of a fitted ``model`` ranks with: MC samples only from a
    model with dropout; BALD and BatchBALD, which measure the disagreement between MC samples, fall back to
    ``NO_MC_FALLBACK`` without them, and ``note`` says so (None otherwise)."""
    has_dropout = model.supports_mc and float(model.params.get('dropout', 0)) > 0
    mc_samples = int(mc_samples) if mc_samples and has_dropout else 0
    if strategy not in ('bald', 'batchbald') or mc_samples:
        return strategy, mc_samples, None
    why = 'MC-dropout sampling is off (0 samples)' if has_dropout else 'model kind %s has no dropout' % model_kind
    return NO_MC_FALLBACK, 0, 'Strategy %s needs MC-dropout samples and %s: ranked by %s instead.' % (
        strategy, why, NO_MC_FALLBACK)


@contextlib.contextmanager
def _timed(timings, name):
    start = time.perf_counter()
    yield
    timings[name] = timings.get(name, 0) + time.perf_counter() - start


def predict_all(model, features, metric, mc_samples=0, threads=1):
    """Mean probabilities (float32 ``(n, columns)``) and ``metric`` certainty of every row, predicted
    ``PREDICT_ROWS`` rows at a time (with ``mc_samples`` MC-dropout samples when positive), ``threads`` blocks
    at once. In float32: the model's own probabilities need no validation, and an epoch touches millions."""
    mean = np.empty((features.n, model.mapping.n_columns), dtype=np.float32)
    certainty = np.empty(features.n)
    score = CERTAINTY_METRICS[metric]
    heads = model.prediction_heads(mc_samples or None)
    columns = model.mapping.n_columns
    averaging = np.tile(np.eye(columns, dtype=np.float32), (mc_samples, 1)) / np.float32(mc_samples or 1)

    def predict(piece):
        start, values, offset = piece
        probs = model.block_proba(model.check_input(values), heads, np.float32, start, offset)
        block_mean = probs.reshape(len(probs), -1) @ averaging if mc_samples else probs  # a product: fast
        return start, block_mean, score(block_mean, probs.transpose(1, 0, 2) if mc_samples else None)

    with model.prediction_session(parallel=threads > 1), \
            concurrent.futures.ThreadPoolExecutor(max(1, threads)) as pool:
        results = pool.map(predict, features.blocks_of_rows(PREDICT_ROWS)) if threads > 1 else map(
            predict, features.blocks_of_rows(PREDICT_ROWS))
        for start, block_mean, block_certainty in results:
            mean[start:start + len(block_mean)] = block_mean
            certainty[start:start + len(block_mean)] = block_certainty
    return mean, certainty


def acquisition_order(strategy, model, features, mean, certainty, labeled_rows, seed=0, mc_samples=0):
    """All rows: unlabeled ones in ``strategy`` order (expensive strategies pick their top among their
    candidate pool, the rest follow least certain first), then labeled ones least certain first.

    ``certainty`` is the strategy's own metric for the certainty-based strategies, so their order is one
    stable sort of it (ties by row)."""
    labeled = np.zeros(len(certainty), dtype=bool)
    labeled[labeled_rows] = True
    by_certainty = np.argsort(certainty, kind='stable')
    unlabeled = by_certainty[~labeled[by_certainty]]
    top = np.zeros(0, dtype=np.int64)
    if strategy in EXPENSIVE_TOP and len(unlabeled):
        top = _expensive_top(strategy, model, features, mean, labeled, unlabeled, seed, mc_samples)
    picked = np.zeros(len(certainty), dtype=bool)
    picked[top] = True
    rest = unlabeled[~picked[unlabeled]]
    return np.concatenate([top, rest, by_certainty[labeled[by_certainty]]]).astype(np.int64)


def _expensive_top(strategy, model, features, mean, labeled, unlabeled, seed, mc_samples):
    """The top picks of BatchBALD, coreset or class-balanced among the unlabeled rows (as row numbers)."""
    k = min(EXPENSIVE_TOP[strategy], len(unlabeled))
    rng = np.random.default_rng(seed)
    if strategy == 'class_balanced':
        return np.asarray(rank(strategy, mean, k, labeled_mask=labeled), dtype=np.int64)
    if strategy == 'batchbald':  # ``unlabeled`` is in certainty (= -BALD) order: the most informative first
        pool = np.sort(unlabeled[:CANDIDATE_POOL[strategy]])
        samples = model.predict_proba(features.take(pool), mc_samples=mc_samples)
        return pool[rank(strategy, samples, min(k, len(pool)), rng=rng)]
    pool = unlabeled if len(unlabeled) <= CANDIDATE_POOL[strategy] else rng.choice(
        unlabeled, CANDIDATE_POOL[strategy], replace=False)
    pool = np.sort(pool)
    centres = np.flatnonzero(labeled)
    embeddings = features.take(np.concatenate([pool, centres])).reshape(len(pool) + len(centres), -1)
    is_centre = np.arange(len(embeddings)) >= len(pool)
    return pool[rank(strategy, None, min(k, len(pool)), embeddings=embeddings, labeled_mask=is_centre)]


def labeled_quality(features, labels, categories, excluded=(), model_kind='mlp', backend=None, seed=0,
                    model_params=None, folds=MAX_FOLDS):
    """Cross-validated quality (:func:`.quality.epoch_quality`) of the epoch's model kind on its labels;
    the confusion matrix covers the trainable categories in column order (``classes``, returned too)."""
    features = features if isinstance(features, FeatureBlocks) else FeatureBlocks.from_slides(features)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1, 3)

    def make_model():
        return make_classifier(model_kind, backend, categories=list(categories), excluded=list(excluded),
                               seed=seed, **(model_params or {}))

    classes = make_model().mapping.columns
    quality = epoch_quality(features.take(features.rows(labels[:, :2])), labels[:, 2], make_model, classes,
                            folds, seed)
    return dict(quality, classes=classes.tolist())
