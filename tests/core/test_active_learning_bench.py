"""The active-learning benchmark (benchmarks/bench_active_learning.py) on a tiny generated folder of the
ebhi_seg layout: the dataset pieces, the summary arithmetic, and one end-to-end run with every strategy."""
import importlib.util
import json
import os
import sys
import time

import numpy as np
import pytest
from PIL import Image

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          'benchmarks')
sys.path.insert(0, BENCHMARKS)

import al_dataset  # noqa: E402
import bench_active_learning as bench  # noqa: E402
from histomics_label.core import training  # noqa: E402

CELL = 48
#: class -> (epithelium colour, cases); case "shared" holds images of both classes
CLASSES = {'Alpha': ((90, 40, 140), ['a1', 'a2', 'a3', 'shared']),
           'Beta': ((40, 130, 110), ['b1', 'b2', 'b3', 'shared'])}


def _write_image(folder, cls, name, colour, seed):
    """An image with ``colour`` epithelium in a vertical band (mask white) on pink "other tissue"."""
    rng = np.random.default_rng(seed)
    x0 = int(rng.integers(4, CELL // 2))
    mask = np.zeros((CELL, CELL), dtype=bool)
    mask[:, x0:x0 + CELL // 2] = True
    rgb = np.where(mask[..., None], colour, (235, 160, 200)) + rng.normal(0, 8, (CELL, CELL, 3))
    for sub in ('image', 'mask'):
        os.makedirs(os.path.join(folder, cls, sub), exist_ok=True)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(
        os.path.join(folder, cls, 'image', name + '.jpg'), quality=92)
    Image.fromarray(mask).save(os.path.join(folder, cls, 'mask', name + '.png'))


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ebhi_like'))
    seed = 0
    for cls, (colour, cases) in CLASSES.items():
        for case in cases:
            for index in range(2):
                seed += 1
                _write_image(root, cls, '%s-1-400-%03d' % (case.upper() if index else case, index), colour, seed)
    return root


@pytest.fixture(scope='module')
def argv(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp('out')
    return ['--data', folder, '--cache-dir', str(out / 'cache'), '--out', str(out / 'al.png'), '--seeds', '1',
            '--budget', '20', '--batch', '10', '--pool-images', '6', '--test-images', '4', '--mosaic-side', '3',
            '--cell', str(CELL), '--radius', '16', '--threads', '1']


@pytest.fixture(scope='module')
def prepared(argv):
    log = []
    categories, pool, test, info = bench.prepare(bench.parse_args(argv), log=log.append)
    return categories, pool, test, info, log


def test_scan_split_and_choose(folder):
    categories, samples = al_dataset.scan(folder)
    assert categories == ['other tissue', 'Alpha', 'Beta']
    assert len(samples) == 16
    # case ids: the name up to the first "-", case-insensitive ("a1" and "A1" are one case)
    assert {s.case for s in samples} == {'a1', 'a2', 'a3', 'b1', 'b2', 'b3', 'shared'}
    test_cases = al_dataset.split_cases(samples, 1 / 3)
    for label in (1, 2):
        sides = {s.case in test_cases for s in samples if s.label == label}
        assert sides == {True, False}  # every class on both sides
    pool, test = al_dataset.choose(samples, test_cases, 4, 2)
    assert not {s.case for s in pool} & {s.case for s in test}
    assert [s.label for s in pool].count(1) >= 2 and [s.label for s in pool].count(2) >= 2  # the floor
    # a function of the names only, not of the order they are listed in
    again = al_dataset.choose(list(reversed(samples)), test_cases, 4, 2)
    assert (set(pool), set(test)) == (set(again[0]), set(again[1]))


def test_scan_rejects_a_bad_folder(folder, tmp_path):
    with pytest.raises(ValueError, match='no <class>/image folders'):
        al_dataset.scan(str(tmp_path))
    _write_image(str(tmp_path), 'Gamma', 'c1-1', (0, 0, 0), 1)
    os.remove(os.path.join(str(tmp_path), 'Gamma', 'mask', 'c1-1.png'))
    with pytest.raises(ValueError, match=r'1 images have no mask .* Gamma/image/c1-1.jpg'):
        al_dataset.scan(str(tmp_path))
    with pytest.raises(ValueError, match='two cases'):
        al_dataset.split_cases([al_dataset.Sample(1, 'x', 'x-1.jpg', 'x-1.png')])


def test_allocate_and_truth():
    assert al_dataset.allocate(10, {1: 90, 2: 10, 3: 0}) == {1: 8, 2: 2, 3: 0}
    assert al_dataset.allocate(4, {1: 1, 2: 50}) == {1: 1, 2: 3}
    labels = np.array([[0, 0, 1, 1],
                       [0, 0, 1, 1],
                       [2, 2, -1, 3]])
    truth = np.array([[1, 1, 0, 2],
                      [1, 0, 0, 2],
                      [-1, -1, 0, 1]])
    majority, purity = al_dataset.superpixel_truth(labels, truth, 5, 3)
    assert majority.tolist() == [1, 0, -1, 1, -1]  # ties go to the lower category; -1 = empty cell / no pixels
    assert np.allclose(purity, [0.75, 0.5, 1.0, 1.0, 0.0])


def test_prepare_reports_and_caches(prepared, argv):
    categories, pool, test, info, log = prepared
    assert categories == ['other tissue', 'Alpha', 'Beta']
    assert info['pool']['images'] == 6 and info['test']['images'] == 4
    assert info['pool']['mosaics'] == [[2 * CELL, 3 * CELL]] and info['test']['mosaics'] == [[2 * CELL, 2 * CELL]]
    assert len(pool.y) == info['pool']['superpixels'] >= 40 and pool.X.shape == (len(pool.y), 1280)
    assert set(np.unique(pool.y)) == {0, 1, 2} and 0.8 < info['pool']['purity_mean'] <= 1
    assert any('purity' in line for line in log)
    # the second time everything comes from the cache, identical
    _, pool2, test2, info2 = bench.prepare(bench.parse_args(argv), log=lambda line: None)
    assert info2['pool']['cached'] and info2['test']['cached']
    assert np.array_equal(pool2.X, pool.X) and np.array_equal(test2.y, test.y)


def test_batch_equals_the_top_of_the_product_ranking():
    """For coreset and BatchBALD the benchmark lets the product's epoch rank the batch only: the same picks
    as the first items of a longer ranking (greedy picks do not depend on how many are asked for)."""
    rng = np.random.default_rng(3)
    n, classes = 60, 4
    centres = rng.normal(size=(classes, 16)) * 2
    y = rng.integers(0, classes, n)
    slides = {0: (np.arange(n), (centres[y] + rng.normal(size=(n, 16))).astype(np.float32))}
    labels = np.column_stack([np.zeros(15, int), np.arange(15), y[:15]])
    names = ['c%d' % c for c in range(classes)]
    for strategy in bench.PREFIX_STABLE:
        rankings = []
        for top in (16, 8):
            with bench.product_top(top):
                arrays, _ = training.train_and_predict(slides, labels, names, strategy=strategy, seed=1)
            rankings.append(arrays['ranking'][:8].tolist())
        assert rankings[0] == rankings[1]
        assert not set(rankings[0]) & set(range(15))
    assert training.EXPENSIVE_TOP['batchbald'] == 20  # restored


def test_summary_arithmetic():
    args = bench.parse_args(['--budget', '30', '--batch', '10', '--seeds', '2'])
    n = [10, 20, 30]

    def runs(*curves):
        return [np.column_stack([n, acc, np.array(acc) / 2, [0.1] * 3]) for acc in curves]

    results = {'random': {'runs': runs([0.2, 0.3, 0.4], [0.2, 0.3, 0.6]), 'note': '', 'seconds': 1},
               'margin': {'runs': runs([0.2, 0.5, 0.6], [0.2, 0.5, 0.6]), 'note': '', 'seconds': 1},
               'coreset': {'runs': runs([0.2, 0.2, 0.2]), 'note': 'too slow', 'seconds': 9}}
    summary, target = bench.summarize(results, args)
    assert target == pytest.approx(0.5)
    assert summary['random']['auc'] == pytest.approx((0.25 + 0.35 + 0.25 + 0.45) / 4)  # trapezoids / range
    assert summary['margin']['auc'] == pytest.approx(0.45)
    assert summary['margin']['auc_gain'] == pytest.approx(0.45 - 0.325)
    assert summary['margin']['labels_needed'] == pytest.approx(20)
    assert summary['margin']['meets_goal'] is False  # 20 of 30 labels is more than half
    assert summary['coreset']['labels_needed'] is None
    assert bench.labels_to_reach(np.array(n), np.array([0.2, 0.4, 0.6]), 0.5) == pytest.approx(25)
    best, beats, sentence = bench.verdict(summary, args)
    assert best == 'margin' and not beats  # coreset (1 of 2 seeds) is no candidate; 2 seeds: p = 0.13
    assert 'larger on 2, paired t-test p = 0.126' in sentence and 'does not meet the goal' in sentence
    text = bench.table(summary, target, args)
    assert '| coreset | 1* |' in text and '> 30' in text and '\\* coreset: too slow' in text


def test_time_limit_and_failures_are_reported(prepared, argv, monkeypatch):
    categories, pool, test, _, _ = prepared
    args = bench.parse_args(argv + ['--strategies', 'margin'])
    results = bench.run_all(pool, test, categories, args, deadline=time.time(), log=lambda line: None)
    assert results['random']['runs'] == [] and results['random']['note'].startswith('too slow at this scale')

    assert results['margin']['note'].startswith('too slow')
    simulate = bench.simulate

    def failing_margin(strategy, *rest, **kwargs):
        if strategy == 'margin':
            raise RuntimeError('boom')
        return simulate(strategy, *rest, **kwargs)

    monkeypatch.setattr(bench, 'simulate', failing_margin)
    results = bench.run_all(pool, test, categories, args, deadline=time.time() + 300, log=lambda line: None)
    assert len(results['random']['runs']) == 1 and not results['random']['note']
    assert results['margin'] == {'runs': [], 'note': 'failed: RuntimeError: boom', 'seconds': pytest.approx(0, abs=1)}


@pytest.mark.slow
def test_end_to_end(prepared, argv):
    summary = bench.main(argv)
    out = json.load(open(os.path.splitext(argv[argv.index('--out') + 1])[0] + '.json'))
    assert set(out['summary']) == set(bench.STRATEGIES)
    for strategy, entry in out['summary'].items():
        assert entry['seeds'] == 1 and not entry['note'], (strategy, entry['note'])
        assert entry['n'] == [10, 20]
        assert all(0 <= value <= 1 for value in entry['acc_mean'] + entry['f1_mean'])
        for run in out['runs'][strategy]:
            assert [row[0] for row in run] == [10, 20]
    # separable colours: the real pipeline (SLIC, truth, embeddings, MLP) learns them
    assert out['ceiling']['accuracy'] > 0.85
    assert summary['random']['final_acc'] > out['ceiling']['majority'] + 0.1
    assert out['info']['pool']['cached'] and out['info']['test']['cached']
    if importlib.util.find_spec('matplotlib'):
        with open(os.path.splitext(argv[argv.index('--out') + 1])[0] + '.png', 'rb') as handle:
            assert handle.read(8) == b'\x89PNG\r\n\x1a\n'
