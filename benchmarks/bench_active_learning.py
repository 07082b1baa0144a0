#!/usr/bin/env python
"""Does guided labeling beat random? Active learning on real labeled H&E with a simulated oracle.

A folder of images with class masks (``../shared/data/ebhi_seg`` layout, see ``al_dataset.py``) is split by case
into a train pool and a test set; images are laid into mosaic "slides", segmented by our tiled SLIC
(``core.superpixels``) and every superpixel is embedded by the offline default backbone (``core.features``,
patches masked to their superpixel), as the product does. A superpixel's true class is the majority class of
its pixels (purity reported). Features are cached under ``--cache-dir``.

For each strategy and seed the oracle starts from the same random batch (per seed), then repeatedly: train and
rank with ``core.training.train_and_predict`` (the product's epoch: the MLP with MC dropout by default, its
certainty and ``acquisition_order``), label the top ``--batch`` of the ranking, until ``--budget`` labels.
``random`` labels a random batch instead. After every batch the model is scored on the test superpixels
(accuracy, macro-F1). Prints what was used, a table (area under the accuracy curve for N <= budget relative to
random, labels needed to reach random's accuracy at the budget) and writes a JSON of all curves and a PNG plot.

    .venv/bin/python benchmarks/bench_active_learning.py --data ../shared/data/ebhi_seg --seeds 5 --budget 200

A strategy still running at ``--time-limit`` is stopped and reported with the seeds it finished.
"""
import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from unittest import mock

import numpy as np
from scipy import stats
from sklearn.metrics import f1_score

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

import al_dataset  # noqa: E402
from histomics_label.core import training  # noqa: E402
from histomics_label.core.features.backbones import DEFAULT_BACKBONE  # noqa: E402
from histomics_label.core.features.extract import extract_features  # noqa: E402
from histomics_label.core.features.store import read_features  # noqa: E402
from histomics_label.core.label_image import BACKGROUND  # noqa: E402
from histomics_label.core.superpixels import compute_superpixels  # noqa: E402

#: cheap first, so that a time limit stops the expensive ones
STRATEGIES = ('random', 'confidence', 'margin', 'negative_entropy', 'class_balanced', 'coreset', 'batchbald')
#: greedy strategies whose first k picks are the same whatever k: the product ranks its top
#: ``training.EXPENSIVE_TOP[name]``, the benchmark asks for the batch only (same picks, less time)
PREFIX_STABLE = ('batchbald', 'coreset')
CACHE_VERSION = 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--data', default=os.path.join(os.path.dirname(ROOT), 'shared', 'data', 'ebhi_seg'))
    parser.add_argument('--seeds', type=int, default=5)
    parser.add_argument('--budget', type=int, default=200, help='labels per run')
    parser.add_argument('--batch', type=int, default=20, help='labels between retrains (the first batch is random)')
    parser.add_argument('--strategies', nargs='+', default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument('--cache-dir', default=os.path.join(os.path.expanduser('~'), '.cache', 'histomics_label',
                                                            'al_bench'))
    parser.add_argument('--out', default=os.path.join(ROOT, 'docs', 'active_learning.png'),
                        help='PNG plot; the curves go to the same name with .json')
    parser.add_argument('--pool-images', type=int, default=64, help='images on the pool side, split over the '
                        'classes in proportion to the folder with at least 2 each (see al_dataset.choose)')
    parser.add_argument('--test-images', type=int, default=32, help='images on the test side, likewise')
    parser.add_argument('--test-fraction', type=float, default=1 / 3, help='share of each class\'s images '
                        'whose cases go to the test side')
    parser.add_argument('--mosaic-side', type=int, default=8, help='images per mosaic row and column')
    parser.add_argument('--cell', type=int, default=224, help='mosaic cell size; other image sizes are resized')
    parser.add_argument('--radius', type=int, default=28, help='SLIC superpixel radius in pixels')
    parser.add_argument('--patch-size', type=int, default=64, help='patch side in pixels (64: the project default)')
    parser.add_argument('--backbone', default=DEFAULT_BACKBONE)
    parser.add_argument('--model', default='mlp', help='classifier kind (the project default)')
    parser.add_argument('--mc-samples', type=int, default=20, help="TrainAndPredict's default")
    parser.add_argument('--threads', type=int, default=2, help='embedding threads')
    parser.add_argument('--time-limit', type=float, default=840, help='seconds for the whole run')
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.batch < 1 or args.budget <= args.batch:
        parser.error('need --seeds >= 1, --batch >= 1 and --budget > --batch')
    if 'random' not in args.strategies:
        args.strategies = ['random'] + args.strategies  # the reference
    return args


# ---------------------------------------------------------------------------------------------------------
# Data: mosaics -> superpixels -> true class, purity and embeddings (cached)

def _digest(cells, args):
    """Cache key of a mosaic: the bytes of its images and masks and every setting that shapes its features."""
    sha = hashlib.sha1(json.dumps([CACHE_VERSION, args.cell, args.mosaic_side, args.radius, args.patch_size,
                                   args.backbone]).encode())
    for sample in cells:
        for path in (sample.image, sample.mask):
            with open(path, 'rb') as handle:
                sha.update(hashlib.sha1(handle.read()).digest())
        sha.update(str(sample.label).encode())
    return sha.hexdigest()[:20]


def featurize_mosaic(cells, n_categories, args):
    """Superpixels of one mosaic with their true class, purity and embedding: a dict of arrays (cached)."""
    path = os.path.join(args.cache_dir, 'mosaic-%s.npz' % _digest(cells, args))
    if os.path.isfile(path):
        with np.load(path) as data:
            return dict(data, cached=True)
    rgb, truth, resized = al_dataset.build(cells, args.mosaic_side, args.cell)
    start = time.time()
    tissue = truth >= 0 if (truth < 0).any() else None  # empty cells of a last, partial mosaic
    superpixels = compute_superpixels(rgb, radius=args.radius, tissue_mask=tissue, keep_labels=True)
    majority, purity = al_dataset.superpixel_truth(superpixels.labels, truth, superpixels.count, n_categories)
    segmented = time.time()
    os.makedirs(args.cache_dir, exist_ok=True)
    features = path + '.features.npz'
    values = np.where(superpixels.labels >= 0, superpixels.labels.astype(np.int64) * 2, BACKGROUND)
    extract_features(rgb, superpixels.centroids, features, backbone=args.backbone, patch_size=args.patch_size,
                     labels=values, threads=args.threads)
    ids, X, _ = read_features(features)
    os.remove(features)
    X = X[np.argsort(ids)]
    keep = majority >= 0
    result = {'ids': np.flatnonzero(keep), 'X': X[keep], 'y': majority[keep], 'purity': purity[keep],
              'segment_seconds': segmented - start, 'embed_seconds': time.time() - segmented,
              'resized': resized, 'shape': np.array(rgb.shape[:2])}
    partial = path + '.partial.npz'
    np.savez(partial, **result)
    os.replace(partial, path)
    return dict(result, cached=False)


class Split:
    """The superpixels of one side (pool or test): per-mosaic slides as ``train_and_predict`` takes them and
    the concatenation of their rows in the same order."""

    def __init__(self, mosaics):
        self.mosaics = mosaics
        self.slides = {index: (m['ids'], m['X']) for index, m in enumerate(mosaics)}
        self.slide = np.concatenate([np.full(len(m['ids']), index) for index, m in enumerate(mosaics)])
        self.ids = np.concatenate([m['ids'] for m in mosaics])
        self.X = np.concatenate([m['X'] for m in mosaics])
        self.y = np.concatenate([m['y'] for m in mosaics])
        self.purity = np.concatenate([m['purity'] for m in mosaics])


def prepare(args, log=print):
    """``(categories, pool Split, test Split, info)`` for ``args.data``; logs what was used."""
    categories, samples = al_dataset.scan(args.data)
    test_cases = al_dataset.split_cases(samples, args.test_fraction)
    chosen = dict(zip(('pool', 'test'), al_dataset.choose(samples, test_cases, args.pool_images,
                                                          args.test_images)))
    info = {'categories': categories, 'folder_images': len(samples),
            'folder_cases': len({s.case for s in samples}), 'test_cases': len(test_cases)}
    log('%s: %d images of %d cases, %d classes + %r; %d cases on the test side'
        % (args.data, len(samples), info['folder_cases'], len(categories) - 1, categories[0], len(test_cases)))
    splits = {}
    for side in ('pool', 'test'):
        if not chosen[side]:
            raise ValueError('no images on the %s side' % side)
        mosaics = [featurize_mosaic(cells, len(categories), args)
                   for cells in al_dataset.layout(chosen[side], args.mosaic_side)]
        splits[side] = split = Split(mosaics)
        per_class = np.bincount([s.label for s in chosen[side]], minlength=len(categories))
        superpixels = np.bincount(split.y, minlength=len(categories))
        info[side] = {
            'images': len(chosen[side]), 'cases': len({s.case for s in chosen[side]}),
            'images_per_class': dict(zip(categories[1:], per_class[1:].tolist())),
            'mosaics': [list(map(int, m['shape'])) for m in mosaics], 'superpixels': int(len(split.y)),
            'superpixels_per_class': dict(zip(categories, superpixels.tolist())),
            'purity_mean': float(split.purity.mean()), 'purity_median': float(np.median(split.purity)),
            'purity_at_least_0.9': float((split.purity >= 0.9).mean()),
            'purity_per_class': {categories[c]: float(split.purity[split.y == c].mean())
                                 for c in range(len(categories)) if superpixels[c]},
            'resized_images': int(sum(m['resized'] for m in mosaics)),
            'cached': all(bool(m['cached']) for m in mosaics),
            'segment_seconds': float(sum(m['segment_seconds'] for m in mosaics)),
            'embed_seconds': float(sum(m['embed_seconds'] for m in mosaics))}
        s = info[side]
        log('%s: %d images of %d cases (%s) -> %d mosaic(s) %s, %d superpixels (%s)%s'
            % (side, s['images'], s['cases'], ', '.join('%s %d' % kv for kv in s['images_per_class'].items()),
               len(mosaics), ' '.join('%dx%d' % tuple(m) for m in s['mosaics']), s['superpixels'],
               ', '.join('%s %d' % kv for kv in s['superpixels_per_class'].items()),
               ', %d images resized to %d px' % (s['resized_images'], args.cell) if s['resized_images'] else ''))
        log('  purity (share of a superpixel\'s pixels in its majority class): mean %.3f, median %.3f, '
            '%.0f%% of superpixels >= 0.9; per class %s'
            % (s['purity_mean'], s['purity_median'], 100 * s['purity_at_least_0.9'],
               ', '.join('%s %.2f' % kv for kv in s['purity_per_class'].items())))
        log('  %s: SLIC %.1f s, embeddings %.1f s' % ('from the cache (first run took)' if s['cached'] else 'computed',
                                                     s['segment_seconds'], s['embed_seconds']))
    return categories, splits['pool'], splits['test'], info


# ---------------------------------------------------------------------------------------------------------
# Simulated labeling

class Deadline(Exception):
    """The run passed ``--time-limit``."""


def initial_batch(y, size, seed):
    """The first ``size`` labels of a seed (random, shared by all strategies), extended until two classes."""
    order = np.random.default_rng([seed, 0]).permutation(len(y))
    take = min(size, len(y))
    while take < len(y) and len(np.unique(y[order[:take]])) < 2:
        take += 1
    return order[:take]


@contextlib.contextmanager
def product_top(batch):
    """Let the prefix-stable expensive strategies rank only ``batch`` items (see ``PREFIX_STABLE``)."""
    limits = {name: min(batch, training.EXPENSIVE_TOP[name]) for name in PREFIX_STABLE
              if name in training.EXPENSIVE_TOP}
    with mock.patch.dict(training.EXPENSIVE_TOP, limits):
        yield


def evaluate(model, X, y, mc_samples):
    """``(accuracy, macro-F1)`` of the product's prediction (argmax of the MC-dropout mean, as
    ``train_and_predict`` predicts) against ``y``, macro over the classes present in ``y``."""
    use_mc = bool(mc_samples) and model.supports_mc and float(model.params.get('dropout', 0)) > 0
    mean = model.predict_proba(X, mc_samples=mc_samples).mean(axis=0) if use_mc else model.predict_proba(X)
    predicted = model.mapping.columns[mean.argmax(axis=1)]
    return float((predicted == y).mean()), float(f1_score(y, predicted, labels=np.unique(y), average='macro',
                                                          zero_division=0))


def simulate(strategy, pool, test, categories, seed, args, deadline=float('inf')):
    """One labeling run: rows ``(labels, accuracy, macro-F1, seconds of the epoch)`` after each batch."""
    rng = np.random.default_rng([seed, 1])
    labeled = [int(row) for row in initial_batch(pool.y, args.batch, seed)]
    points = []
    while True:
        final = len(labeled) >= args.budget
        # the fit does not depend on the strategy: the last epoch (and random's) skip the expensive rankings
        name = 'confidence' if strategy == 'random' or final else strategy
        labels = np.column_stack([pool.slide[labeled], pool.ids[labeled], pool.y[labeled]])
        start = time.time()
        with product_top(args.batch):
            arrays, model = training.train_and_predict(pool.slides, labels, categories, model_kind=args.model,
                                                       strategy=name, mc_samples=args.mc_samples, seed=seed)
        seconds = time.time() - start
        if not (np.array_equal(arrays['slide_index'], pool.slide) and np.array_equal(arrays['superpixel'], pool.ids)):
            raise AssertionError('the epoch\'s rows are not in the order of the pool')
        points.append((len(labeled),) + evaluate(model, test.X, test.y, args.mc_samples) + (seconds,))
        if final:
            return np.array(points)
        if time.time() + seconds > deadline:  # the next epoch would end past the time limit
            raise Deadline
        take = min(args.batch, args.budget - len(labeled))
        if strategy == 'random':
            unlabeled = np.setdiff1d(np.arange(len(pool.y)), labeled)
            picked = rng.choice(unlabeled, take, replace=False)
        else:
            picked = arrays['ranking'][:take]
        if np.isin(picked, labeled).any():
            raise AssertionError('%s proposed an already labeled superpixel' % strategy)
        labeled += [int(row) for row in picked]


def run_all(pool, test, categories, args, deadline, log=print):
    """``{strategy: {'runs': [points per seed], 'note': str}}``; strategies in ``args.strategies`` order."""
    # warm-up: imports and first-call costs stay out of the per-epoch times
    first = initial_batch(pool.y, args.batch, 0)
    training.train_and_predict(pool.slides, np.column_stack([pool.slide[first], pool.ids[first], pool.y[first]]),
                               categories, model_kind=args.model, mc_samples=args.mc_samples)
    results = {}
    for strategy in [s for s in STRATEGIES if s in args.strategies]:
        runs, note, start = [], '', time.time()
        for seed in range(args.seeds):
            try:
                runs.append(simulate(strategy, pool, test, categories, seed, args, deadline))
            except Deadline:
                note = 'too slow at this scale: stopped at the time limit after %d of %d seeds (%.0f s)' % (
                    len(runs), args.seeds, time.time() - start)
                break
            except Exception as exc:  # a failing strategy is reported, the others still run
                note = 'failed: %s: %s' % (type(exc).__name__, exc)
                break
        results[strategy] = {'runs': runs, 'note': note, 'seconds': time.time() - start}
        log('%-16s %d seeds in %5.0f s%s' % (strategy, len(runs), time.time() - start,
                                              ('  ' + note) if note else ''))
    return results


def all_labels(pool, test, categories, args, seed=0):
    """The learning curve's ceiling: the model trained on every pool superpixel, scored on the test set."""
    labels = np.column_stack([pool.slide, pool.ids, pool.y])
    _, model = training.train_and_predict(pool.slides, labels, categories, model_kind=args.model,
                                          mc_samples=args.mc_samples, seed=seed)
    accuracy, macro_f1 = evaluate(model, test.X, test.y, args.mc_samples)
    return {'labels': len(labels), 'accuracy': accuracy, 'macro_f1': macro_f1,
            'majority': float(np.bincount(test.y).max() / len(test.y))}


# ---------------------------------------------------------------------------------------------------------
# Summary

def grid(args):
    """Label counts at which curves are compared: every batch up to the budget."""
    return np.unique(np.append(np.arange(args.batch, args.budget, args.batch), args.budget))


def _sd(values):
    """Sample standard deviation over seeds (axis 0); 0 for one seed."""
    return values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1:])


def _area(n, values):
    return float(np.trapezoid(values, n) / (n[-1] - n[0]))


def labels_to_reach(n, curve, target):
    """Labels at which ``curve`` (on ``n``) first reaches ``target``, linearly interpolated; None if never."""
    above = np.flatnonzero(curve >= target)
    if not len(above):
        return None
    i = above[0]
    if i == 0:
        return float(n[0])
    return float(n[i - 1] + (target - curve[i - 1]) * (n[i] - n[i - 1]) / (curve[i] - curve[i - 1]))


def summarize(results, args):
    """Per strategy: mean/sd curves on :func:`grid` and the figures of the table."""
    n = grid(args)

    def curves(runs, column):  # (seeds, len(n)) on the common grid
        return np.array([np.interp(n, run[:, 0], run[:, column]) for run in runs])

    reference = results['random']['runs']
    if not reference:
        raise ValueError('random (the reference) has no finished run: %s' % results['random']['note'])
    ref_acc, ref_f1 = curves(reference, 1), curves(reference, 2)
    target = float(ref_acc[:, -1].mean())
    summary = {}
    for strategy, result in results.items():
        runs = result['runs']
        entry = {'seeds': len(runs), 'note': result['note'], 'seconds': result['seconds'], 'n': n.tolist()}
        if runs:
            acc, f1 = curves(runs, 1), curves(runs, 2)
            seeds = len(runs)
            auc = np.array([_area(n, c) for c in acc])
            auc_f1 = np.array([_area(n, c) for c in f1])
            ref_auc = np.array([_area(n, c) for c in ref_acc[:seeds]])
            ref_auc_f1 = np.array([_area(n, c) for c in ref_f1[:seeds]])
            needed = labels_to_reach(n, acc.mean(axis=0), target)
            gain = acc - ref_acc[:seeds]  # paired by seed: same first batch
            entry.update(
                acc_mean=acc.mean(axis=0).tolist(), acc_sd=_sd(acc).tolist(),
                gain_mean=gain.mean(axis=0).tolist(), gain_se=(_sd(gain) / np.sqrt(seeds)).tolist(),
                f1_mean=f1.mean(axis=0).tolist(), f1_sd=_sd(f1).tolist(),
                auc=float(auc.mean()), auc_sd=float(_sd(auc)),
                auc_gain=float((auc - ref_auc).mean()), auc_gain_sd=float(_sd(auc - ref_auc)),
                auc_relative=float(auc.mean() / ref_auc.mean() - 1),
                auc_f1=float(auc_f1.mean()), auc_f1_sd=float(_sd(auc_f1)),
                auc_f1_relative=float(auc_f1.mean() / ref_auc_f1.mean() - 1),
                final_acc=float(acc[:, -1].mean()), final_acc_sd=float(_sd(acc[:, -1])),
                final_f1=float(f1[:, -1].mean()), final_f1_sd=float(_sd(f1[:, -1])),
                labels_needed=needed, seconds_per_epoch=float(np.mean([run[:, 3].mean() for run in runs])),
                auc_wins=int((auc > ref_auc).sum()),
                # paired t-test of the per-seed AUCs against random's (two-sided); None with one seed
                auc_gain_p=float(stats.ttest_rel(auc, ref_auc).pvalue) if seeds > 1 and np.ptp(auc - ref_auc) else None)
            entry['meets_goal'] = bool(entry['auc_relative'] >= 0.05 and needed is not None
                                       and needed <= 0.5 * args.budget)
        summary[strategy] = entry
    return summary, target


def table(summary, target, args):
    """The markdown table (``*``: fewer seeds than asked, see the notes below it)."""
    def pm(entry, key):
        return '%.3f ± %.3f' % (entry[key], entry[key + '_sd'])

    rows = ['| strategy | seeds | accuracy AUC, N <= %d | vs random | macro-F1 AUC | vs random | accuracy at %d | '
            'macro-F1 at %d | labels to reach random\'s %.3f | s per epoch | goal |' % (
                args.budget, args.budget, args.budget, target),
            '| --- ' * 11 + '|']
    for strategy, e in summary.items():
        if not e['seeds']:
            rows.append('| %s | 0* |' % strategy + ' - |' * 9)
            continue
        needed = e['labels_needed']
        needed = '> %d' % args.budget if needed is None else '%.0f (%.0f%%)' % (needed, 100 * needed / args.budget)
        reference = strategy == 'random'
        gain = '-' if reference else '%+.1f%% (%+.3f ± %.3f)' % (100 * e['auc_relative'], e['auc_gain'],
                                                                e['auc_gain_sd'])
        gain_f1 = '-' if reference else '%+.1f%%' % (100 * e['auc_f1_relative'])
        goal = '-' if reference else ('met' if e['meets_goal'] else 'not met')
        cells = [strategy, '%d%s' % (e['seeds'], '*' if e['note'] else ''), pm(e, 'auc'), gain, pm(e, 'auc_f1'),
                 gain_f1, pm(e, 'final_acc'), pm(e, 'final_f1'), needed, '%.2f' % e['seconds_per_epoch'], goal]
        rows.append('| ' + ' | '.join(cells) + ' |')
    notes = ['\\* %s: %s' % (s, e['note']) for s, e in summary.items() if e['note']]
    return '\n'.join(rows + ([''] + notes if notes else []))


def verdict(summary, args):
    """``(best guided strategy or None, beats_random, sentence)``: the strategy with the largest accuracy-AUC
    gain over random among those that finished every seed, and whether that gain is clear of seed noise
    (a paired t-test over the seeds at p < 0.05; never with one seed)."""
    candidates = {s: e for s, e in summary.items() if s != 'random' and e['seeds'] == args.seeds}
    if not candidates:
        return None, False, 'No guided strategy finished all seeds: no recommendation.'
    best = max(candidates, key=lambda s: candidates[s]['auc_gain'])
    e = candidates[best]
    figures = '%s: accuracy AUC %+.1f%% vs random (%+.3f ± %.3f over %d seeds, larger on %d, paired t-test p = %s), ' \
        'macro-F1 AUC %+.1f%%' % (best, 100 * e['auc_relative'], e['auc_gain'], e['auc_gain_sd'], e['seeds'],
                                  e['auc_wins'], 'n/a' if e['auc_gain_p'] is None else '%.3f' % e['auc_gain_p'],
                                  100 * e['auc_f1_relative'])
    goal = 'On the mean curves it %s the goal (accuracy AUC >= random + 5%% and random\'s accuracy at %d ' \
        'with <= 50%% of the labels).' % ('meets' if e['meets_goal'] else 'does not meet', args.budget)
    if e['auc_gain'] <= 0:
        return best, False, 'Guidance does not beat random here: no guided strategy has a larger accuracy AUC ' \
            'than random (best %s).' % figures
    if e['auc_gain_p'] is None or e['auc_gain_p'] >= 0.05:
        return best, False, 'Guidance does not clearly beat random here: the best, %s, is within seed noise ' \
            '(p >= 0.05). %s' % (figures, goal)
    return best, True, 'Guidance beats random here: best %s. %s' % (figures, goal)


def plot(summary, info, args, path):
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    for strategy, e in summary.items():
        if not e['seeds']:
            continue
        n = np.array(e['n'])
        style = dict(color='black', linestyle='--') if strategy == 'random' else {}
        for axis, key, spread in zip(axes, ('acc', 'f1', 'gain'), ('_sd', '_sd', '_se')):
            mean, sd = np.array(e[key + '_mean']), np.array(e[key + spread])
            line, = axis.plot(n, mean, label='%s (%d seeds)' % (strategy, e['seeds']), linewidth=1.6, **style)
            axis.fill_between(n, mean - sd, mean + sd, color=line.get_color(), alpha=0.1)
    names = ('test accuracy (± sd)', 'test macro-F1 (± sd)', 'accuracy minus random\'s, paired by seed (± se)')
    for axis, name in zip(axes, names):
        axis.set_xlabel('labels (batches of %d; first batch random)' % args.batch)
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle('Active learning on %s: %d pool / %d test superpixels, %d classes, mean over seeds'
                    % (os.path.basename(os.path.normpath(args.data)), info['pool']['superpixels'],
                       info['test']['superpixels'], len(info['categories'])), fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def code_version():
    """The git commit of the code measured, and which files of ``histomics_label/core`` differ from it."""
    def git(*command):
        return subprocess.run(('git', '-C', ROOT) + command, capture_output=True, text=True).stdout.strip()

    try:
        return {'commit': git('rev-parse', '--short', 'HEAD'),
                'modified': git('status', '--porcelain', '--', 'histomics_label/core').splitlines()}
    except OSError:
        return {'commit': None, 'modified': []}


def main(argv=None):
    args = parse_args(argv)
    plotting = importlib.util.find_spec('matplotlib') is not None
    if not plotting:
        print('matplotlib is not installed (pip install -e .[bench]): no plot will be written')
    start = time.time()
    deadline = start + args.time_limit
    categories, pool, test, info = prepare(args)
    log_prepared = time.time() - start
    print('data ready in %.0f s; radius %d px, %dx%d-image mosaics, %d px patches masked to the superpixel, '
          'backbone %s, model %s with %d MC samples' % (log_prepared, args.radius, args.mosaic_side,
                                                         args.mosaic_side, args.patch_size, args.backbone,
                                                         args.model, args.mc_samples))
    results = run_all(pool, test, categories, args, deadline)
    summary, target = summarize(results, args)
    ceiling = all_labels(pool, test, categories, args)
    best, beats, sentence = verdict(summary, args)
    print()
    print(table(summary, target, args))
    print()
    print('With every pool superpixel labeled (%d labels) the same model reaches accuracy %.3f, macro-F1 %.3f '
          '(majority class alone: %.3f).' % (ceiling['labels'], ceiling['accuracy'], ceiling['macro_f1'],
                                             ceiling['majority']))
    print(sentence)
    print('Best guided strategy here: %s%s' % (best, '' if beats else ' (not better than random)'))
    wall = time.time() - start
    load = os.getloadavg()
    version = code_version()
    print('wall time %.0f s (data %.0f s); load average %.2f %.2f %.2f; %d cores; code %s%s'
          % (wall, log_prepared, *load, os.cpu_count(), version['commit'],
             ' + uncommitted: ' + ', '.join(version['modified']) if version['modified'] else ''))
    out = os.path.splitext(args.out)[0]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(out + '.json', 'w') as handle:
        json.dump({'args': vars(args), 'info': info, 'summary': summary, 'ceiling': ceiling, 'best': best,
                   'beats_random': beats, 'verdict': sentence, 'wall_seconds': wall, 'load_average': load,
                   'code': version, 'runs': {s: [run.tolist() for run in r['runs']] for s, r in results.items()}},
                  handle, indent=1)
    if plotting:
        plot(summary, info, args, out + '.png')
    print('wrote %s.json%s' % (out, ' and %s.png' % out if plotting else ''))
    return summary


if __name__ == '__main__':
    main()
