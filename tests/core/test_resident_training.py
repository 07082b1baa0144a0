"""What the resident trainer relies on in the core: features used in place as per-slide blocks, the LRU cache
within its byte budget, float16 rows predicting like float32 ones, MC samples that do not depend on the
batch, stable top-k selection, and memory that stays near the size of the features."""
import subprocess
import sys

import numpy as np
import pytest

from histomics_label.core import acquisition as acq
from histomics_label.core import bfloat16
from histomics_label.core.classifiers import make_classifier
from histomics_label.core.classifiers.affine import normalised_affine
from histomics_label.core.feature_blocks import FeatureBlock, FeatureBlocks
from histomics_label.core.feature_cache import FeatureCache
from histomics_label.core.training import train_and_predict


def clusters(seed=0, sizes=(300, 500), dim=32, offset=3.0):
    """Slides of superpixels (ids shuffled) whose features form four clusters (class = id % 4)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (4, dim))
    slides = {}
    for index, size in zip((1, 5), sizes):
        ids = rng.permutation(size)
        slides[index] = (ids, (centres[ids % 4] + rng.normal(0, 1, (size, dim)) + offset).astype(np.float32))
    return slides


LABELS = [(1, i, i % 4) for i in range(24)] + [(5, i, i % 4) for i in range(16)]


def test_blocks_find_rows_take_them_and_cover_every_row_in_order():
    slides = clusters()
    blocks = FeatureBlocks.from_slides(slides)
    assert blocks.n == 800 and blocks.row_shape == (32,)
    assert blocks.slide_index.tolist() == [1] * 300 + [5] * 500
    assert np.array_equal(blocks.superpixel, np.concatenate([slides[1][0], slides[5][0]]))
    rows = blocks.rows([(5, 7), (1, 0), (1, 299)])
    assert rows.tolist() == [300 + int(np.flatnonzero(slides[5][0] == 7)[0]),
                             int(np.flatnonzero(slides[1][0] == 0)[0]), int(np.flatnonzero(slides[1][0] == 299)[0])]
    assert np.array_equal(blocks.take(rows), np.concatenate([slides[1][1], slides[5][1]])[rows])
    pieces = list(blocks.blocks_of_rows(128))
    assert [start for start, _, _ in pieces] == [0, 128, 256, 300, 428, 556, 684]
    assert np.array_equal(np.concatenate([values for _, values, _ in pieces]),
                          np.concatenate([slides[1][1], slides[5][1]]))
    assert all(offset is None for _, _, offset in pieces)
    with pytest.raises(ValueError, match='2 labels name superpixels without features, e.g. slide 5 '
                                         'superpixel 500'):
        blocks.rows([(5, 500), (2, 0), (1, 3)])
    with pytest.raises(ValueError, match='repeat'):
        FeatureBlock([1, 1], np.zeros((2, 3)))


def test_blocks_give_the_same_epoch_as_a_dict_of_slides():
    slides = clusters(1)
    from_dict, _ = train_and_predict(slides, LABELS, list('abcd'), model_kind='mlp', mc_samples=4)
    from_blocks, _ = train_and_predict(FeatureBlocks.from_slides(slides), LABELS, list('abcd'),
                                       model_kind='mlp', mc_samples=4)
    for name, values in from_dict.items():
        assert np.array_equal(values, from_blocks[name]), name


def test_blocks_predicted_in_parallel_give_the_same_epoch(monkeypatch):
    from histomics_label.core import training

    monkeypatch.setattr(training, 'PREDICT_ROWS', 64)  # many blocks, so that threads interleave
    slides = clusters(4)
    one, _ = train_and_predict(slides, LABELS, list('abcd'), model_kind='mlp', mc_samples=6, threads=1)
    two, _ = train_and_predict(slides, LABELS, list('abcd'), model_kind='mlp', mc_samples=6, threads=2)
    assert np.allclose(one['probabilities'], two['probabilities'], rtol=0, atol=1e-6)
    assert np.array_equal(one['predicted'], two['predicted'])
    assert np.allclose(one['certainty'], two['certainty'], rtol=0, atol=1e-6)


@pytest.mark.parametrize('kind', ['linear', 'mlp', 'logistic'])
def test_float16_rows_predict_like_float32_rows(kind):
    """float16 rows give the float32 model's predictions up to float16 rounding, both plain ones far from
    zero (offset 40: converted and centred in float32 a block at a time) and the cache's centred ones
    (multiplied in float16 as they are)."""
    slides = clusters(2, offset=40.0)
    half = {index: (ids, values.astype(np.float16)) for index, (ids, values) in slides.items()}
    cache = FeatureCache(10 ** 8, 'float16')
    centred = FeatureBlocks({index: cache.get(index, lambda pair=pair: pair) for index, pair in slides.items()})
    mc = 0 if kind == 'logistic' else 8
    exact, model = train_and_predict(slides, LABELS, list('abcd'), model_kind=kind, mc_samples=mc)
    inputs = np.concatenate([values for _, values in half.values()])
    reference = model.predict_proba(inputs.astype(np.float32))  # the same model on the rounded inputs
    assert np.abs(model.predict_proba(inputs) - reference).max() < 2e-3
    for rows in (half, centred):
        rounded, _ = train_and_predict(rows, LABELS, list('abcd'), model_kind=kind, mc_samples=mc)
        assert np.abs(rounded['probabilities'] - exact['probabilities']).max() < 0.05
        assert (rounded['predicted'] == exact['predicted']).mean() > 0.99


@pytest.mark.parametrize('kind', ['linear', 'mlp', 'logistic'])
def test_bfloat16_cache_rows_predict_like_float32_rows(kind):
    """The bfloat16 cache (centred rows, 8 significant bits, multiplied by torch in bfloat16) predicts like
    float32 rows, as closely as the float16 cache does on the same clusters."""
    slides = clusters(2, offset=40.0)
    cache = FeatureCache(10 ** 8, 'bfloat16')
    blocks = FeatureBlocks({index: cache.get(index, lambda pair=pair: pair) for index, pair in slides.items()})
    assert all(block.values.dtype == bfloat16.DTYPE and block.offset is not None for block in blocks.blocks)
    mc = 0 if kind == 'logistic' else 8
    exact, model = train_and_predict(slides, LABELS, list('abcd'), model_kind=kind, mc_samples=mc)
    rounded, _ = train_and_predict(blocks, LABELS, list('abcd'), model_kind=kind, mc_samples=mc)
    assert np.abs(rounded['probabilities'] - exact['probabilities']).max() < 0.05
    assert (rounded['predicted'] == exact['predicted']).mean() > 0.99
    # the product itself: bfloat16 rows through torch equal the same rows decoded to float32, to bfloat16's
    # rounding of the result (~4e-3 relative)
    block = blocks.blocks[0]
    dim = block.values.shape[1]
    mean, std = np.zeros(dim, np.float32), np.ones(dim, np.float32)
    weight, bias = np.random.default_rng(3).normal(0, 0.1, (dim, 5)).astype(np.float32), np.zeros(5, np.float32)
    decoded = normalised_affine(block.values.astype(np.float32), mean, std, weight, bias)
    assert np.abs(normalised_affine(block.values, mean, std, weight, bias) - decoded).max() < (
        1e-2 * np.abs(decoded).max())


def test_auto_stores_bfloat16_where_the_cpu_multiplies_it_fast(monkeypatch):
    for fast, expected in ((True, 'bfloat16'), (False, 'float16')):
        monkeypatch.setattr(bfloat16, 'fast_on_this_cpu', lambda fast=fast: fast)
        cache = FeatureCache(10 ** 6, 'auto')
        assert cache.dtype == expected
        block = cache.get('x', lambda: (np.arange(4), np.ones((4, 3), np.float32)))
        assert block.values.dtype == (bfloat16.DTYPE if fast else np.float16)
    cache.configure(10 ** 6, 'float16')  # auto resolved to float16 here: the same dtype, the entry stays
    assert cache.keys() == ['x']


@pytest.mark.parametrize('kind', ['linear', 'mlp', 'logistic'])
@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_rows_with_nan_or_infinity_are_refused_when_predicting(kind, bad):
    slides = clusters(6)
    X = np.concatenate([values for _, values in slides.values()])
    model = make_classifier(kind, seed=0).fit(X[:100], np.concatenate([slides[1][0], slides[5][0]])[:100] % 4)
    rows = X.copy()
    rows[500, 3] = bad
    for dtype in (np.float32, np.float16, bfloat16.DTYPE):
        with pytest.raises(ValueError, match='NaN or infinite values'):
            model.predict_proba(rows.astype(dtype))
    assert np.all(np.isfinite(model.predict_proba(X.astype(np.float16))))


def test_the_float16_path_survives_extreme_scales():
    """A nearly constant feature far from zero (scale 500, beyond what float16 scaling keeps) and a feature
    in the ten thousands: float32 rows stay exact, float16 rows finite and as close as their rounding allows."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (100, 6)).astype(np.float32)
    X[:, 0] = X[:, 0] * 2e-3 + 1000
    X[:, 1] *= 1e4
    mean, std = X.mean(axis=0), X.std(axis=0)
    weight, bias = rng.normal(0, 1, (6, 3)).astype(np.float32), np.zeros(3, np.float32)
    exact = ((X - mean) / std) @ weight + bias
    assert np.allclose(normalised_affine(X, mean, std, weight, bias), exact, atol=1e-2)
    rounded = X.astype(np.float16)
    half = normalised_affine(rounded, mean, std, weight, bias)
    assert np.all(np.isfinite(half))
    reference = ((rounded.astype(np.float32) - mean) / std) @ weight + bias
    assert np.abs(half - reference).max() < 0.05 * np.abs(reference).max()


@pytest.mark.parametrize('kind', ['linear', 'mlp'])
def test_mc_samples_of_an_item_do_not_depend_on_the_batch(kind):
    """Each MC sample's dropout mask is shared by all items: predicting any subset or order of rows gives
    those rows' samples (up to the rounding of a matrix product of another size), so blocks, candidate pools
    and the job path agree."""
    slides = clusters(3)
    X = np.concatenate([values for _, values in slides.values()])
    model = make_classifier(kind, seed=1).fit(X[:80], np.concatenate([slides[1][0], slides[5][0]])[:80] % 4)
    whole = model.predict_proba(X, mc_samples=6)
    subset = np.array([700, 3, 512, 3])
    assert np.allclose(model.predict_proba(X[subset], mc_samples=6), whole[:, subset], rtol=0, atol=1e-6)
    assert np.abs(whole[0] - whole[1]).max() > 1e-3  # samples differ


def test_the_cache_keeps_its_budget_and_evicts_least_recently_used():
    loads = []

    def loader(key, rows):
        def load():
            loads.append(key)
            return np.arange(rows), np.full((rows, 100), 0.5, dtype=np.float32)
        return load

    entry = 64 * 100 * 2 + 64 * 8 * 2 + 100 * 4  # float16 values + ids + order + the float32 offset
    cache = FeatureCache(budget_bytes=2 * entry, dtype='float16')
    a = cache.get('a', loader('a', 64))
    assert a.values.dtype == np.float16 and not a.values.flags.writeable and a.nbytes == entry
    cache.get('b', loader('b', 64))
    assert cache.get('a', loader('a', 64)) is a  # a hit: nothing loaded, 'a' becomes the most recent
    cache.get('c', loader('c', 64))  # evicts 'b', the least recently used
    assert loads == ['a', 'b', 'c'] and cache.keys() == ['a', 'c'] and cache.evictions == 1
    assert cache.nbytes <= cache.budget
    # entries an epoch in progress needs are kept even beyond the budget
    cache.get('d', loader('d', 64), pinned=['a', 'c', 'd'])
    assert cache.keys() == ['a', 'c', 'd'] and cache.over_budget
    cache.get('e', loader('e', 64))
    assert cache.keys() == ['d', 'e'] and not cache.over_budget
    cache.configure(entry, 'float16')
    assert cache.keys() == ['e']
    cache.configure(entry, 'float32')  # another dtype: every entry goes
    assert cache.keys() == [] and cache.hits == 1 and cache.misses == 5


def test_float16_entries_are_stored_centred():
    """float16 keeps ~3 significant digits: rows far from zero lose less stored minus their mean."""
    rng = np.random.default_rng(5)
    values = (rng.normal(0, 1, (300, 8)) + 500).astype(np.float32)
    half = FeatureCache(10 ** 6, 'float16').get('x', lambda: (np.arange(300), values))
    assert np.allclose(half.offset, values.mean(axis=0), atol=1e-3)
    assert np.abs(half.values.astype(np.float32)).max() < 5  # stored centred
    blocks = FeatureBlocks({0: half})
    rows = np.array([7, 0, 299])
    assert blocks.take(rows).dtype == np.float32
    assert np.abs(blocks.take(rows) - values[rows]).max() < 5e-3  # plain float16 would be off by ~0.25
    full = FeatureCache(10 ** 6, 'float32').get('x', lambda: (np.arange(300), values))
    assert full.offset is None and np.array_equal(full.values, values)


def test_the_cache_refuses_what_it_cannot_hold():
    cache = FeatureCache(10 ** 6, 'float16')
    with pytest.raises(ValueError, match='range'):
        cache.get('big', lambda: (np.arange(2), np.array([[1e6], [0]], dtype=np.float32)))
    with pytest.raises(ValueError, match='embedding vectors'):
        cache.get('patches', lambda: (np.arange(2), np.zeros((2, 4, 4, 3), dtype=np.uint8)))
    assert cache.keys() == []
    for budget, dtype in ((-1, 'float16'), (1.5, 'float16'), (10, 'float64'), (10, 'bf16')):
        with pytest.raises(ValueError):
            FeatureCache(budget, dtype)


@pytest.mark.parametrize('seed', range(6))
def test_smallest_first_equals_a_stable_argsort(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 20, 500).astype(float)  # many ties
    for k in (1, 7, 60, 124, 125, 499, 500):
        assert np.array_equal(acq.smallest_first(scores, k), np.argsort(scores, kind='stable')[:k])


MEMORY_SCRIPT = '''
import resource, sys
import numpy as np
from histomics_label.core.feature_blocks import FeatureBlock, FeatureBlocks
from histomics_label.core.training import train_and_predict
kind = sys.argv[1]
rng = np.random.default_rng(0)
blocks = {s: FeatureBlock(np.arange(40000), rng.standard_normal((40000, 256), dtype=np.float32).astype(np.float16))
          for s in range(5)}
features = FeatureBlocks(blocks)
labels = [(s, i, (i + s) % 5) for s in range(5) for i in range(20)]
mc = 0 if kind == 'logistic' else 20
small = FeatureBlocks({s: FeatureBlock(np.arange(100), blocks[s].values[:100]) for s in range(5)})
train_and_predict(small, labels, list('abcde'), model_kind=kind, mc_samples=mc)  # imports the frameworks
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
arrays, _ = train_and_predict(features, labels, list('abcde'), model_kind=kind, mc_samples=mc)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)
'''


@pytest.mark.parametrize('kind', ['logistic', 'linear', 'mlp'])
def test_an_epoch_needs_little_memory_beyond_its_features(kind):
    """200k x 256 float16 features (100 MB): an epoch's peak adds far less than one float32 copy of them
    (200 MB; the old path made four copies, float64 ones for the linear kinds)."""
    result = subprocess.run([sys.executable, '-c', MEMORY_SCRIPT, kind], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    growth = int(result.stdout.split()[-1])
    print('%s: peak grew %.0f MB over the features' % (kind, growth / 1e6))
    assert growth < 150e6
