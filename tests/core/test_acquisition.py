"""Acquisition strategies and certainty metrics, checked by value."""
import itertools

import numpy as np
import pytest

from histomics_label.core import acquisition as acq


def brute_force_joint_mi(samples, batch):
    """I(y_batch; w) by enumerating every label tuple of the batch (the definition, written naively)."""
    n_mc, _, n_classes = samples.shape
    joint_entropy = 0.0
    for labels in itertools.product(range(n_classes), repeat=len(batch)):
        p = np.mean([np.prod([samples[m, i, c] for i, c in zip(batch, labels)]) for m in range(n_mc)])
        if p > 0:
            joint_entropy -= p * np.log(p)
    conditional = 0.0
    for i in batch:
        for m in range(n_mc):
            p = samples[m, i]
            conditional -= np.sum(p[p > 0] * np.log(p[p > 0])) / n_mc
    return joint_entropy - conditional


def random_mc_probs(seed, n_mc=4, n_items=7, n_classes=3):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(n_classes, 0.7), size=(n_mc, n_items))


def duplicate_items_probs():
    """Item 0 repeated as items 1 and 2 (the most informative), item 3 less informative but independent."""
    informative = [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]]  # label decided by which MC sample
    independent = [[.95, .05, 0], [.05, .95, 0], [.95, .05, 0], [.05, .95, 0]]
    dull = [[.9, .05, .05]] * 4
    items = [informative, informative, informative, independent, dull, dull]
    return np.array(items, dtype=float).transpose(1, 0, 2)  # (n_mc=4, n_items=6, n_classes=3)


PROBS = np.array([
    [0.90, 0.05, 0.05],
    [0.40, 0.35, 0.25],
    [0.34, 0.33, 0.33],
    [0.60, 0.39, 0.01],
    [0.50, 0.25, 0.25],
])


def test_certainty_values():
    assert np.allclose(acq.certainty(PROBS, 'confidence'), [.9, .4, .34, .6, .5])
    assert np.allclose(acq.certainty(PROBS, 'margin'), [.85, .05, .01, .21, .25])
    entropy = -np.sum(PROBS * np.log(PROBS), axis=1)
    assert np.allclose(acq.certainty(PROBS, 'negative_entropy'), -entropy)
    assert np.argmax(acq.certainty(PROBS, 'negative_entropy')) == 0  # the peaked row is the most certain


def test_certainty_averages_mc_samples_and_bald_needs_them():
    samples = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]])
    assert np.allclose(acq.certainty(samples, 'confidence'), [0.5, 0.5])
    # Item 0: samples disagree completely (MI = log 2); item 1: they agree (MI = 0).
    assert np.allclose(acq.certainty(samples, 'batchbald'), [-np.log(2), 0.0])
    assert np.allclose(acq.certainty(samples, 'bald'), acq.certainty(samples, 'batchbald'))
    with pytest.raises(ValueError, match='MC samples'):
        acq.certainty(samples[0], 'batchbald')


@pytest.mark.parametrize('name, expected', [
    ('confidence', [2, 1, 4, 3, 0]),
    ('margin', [2, 1, 3, 4, 0]),
    ('negative_entropy', [2, 1, 4, 3, 0]),
])
def test_uncertainty_rankings(name, expected):
    assert acq.STRATEGIES[name](PROBS, 5).tolist() == expected
    assert acq.rank(name, PROBS, 2).tolist() == expected[:2]


def test_labeled_items_are_never_picked():
    labeled = np.array([False, False, True, False, False])
    assert acq.confidence(PROBS, 3, labeled_mask=labeled).tolist() == [1, 4, 3]
    assert acq.confidence(PROBS, None, labeled_mask=labeled).tolist() == [1, 4, 3, 0]


def test_ties_keep_item_order():
    assert acq.margin(np.full((4, 2), 0.5), 4).tolist() == [0, 1, 2, 3]


def test_every_registered_strategy_shares_the_signature():
    probs = random_mc_probs(1, n_items=12)
    embeddings = np.random.default_rng(0).normal(size=(12, 4))
    labeled = np.zeros(12, dtype=bool)
    labeled[5] = True
    for name, strategy in acq.STRATEGIES.items():
        picks = strategy(probs, 4, embeddings=embeddings, labeled_mask=labeled, rng=0)
        assert picks.dtype.kind == 'i' and len(picks) == 4 and len(set(picks.tolist())) == 4, name
        assert 5 not in picks and picks.min() >= 0 and picks.max() < 12, name


@pytest.mark.parametrize('batch_size', [1, 2, 3])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_batchbald_score_equals_brute_force(seed, batch_size):
    samples = random_mc_probs(seed)
    for batch in itertools.combinations(range(samples.shape[1]), batch_size):
        assert acq.batchbald_score(samples, batch) == pytest.approx(brute_force_joint_mi(samples, batch), abs=1e-6)


@pytest.mark.parametrize('seed', [0, 1, 2, 3])
def test_batchbald_greedy_matches_brute_force_greedy(seed):
    samples = random_mc_probs(seed)
    expected = []
    for _ in range(3):
        rest = [i for i in range(samples.shape[1]) if i not in expected]
        expected.append(max(rest, key=lambda i: brute_force_joint_mi(samples, expected + [i])))
    assert acq.batchbald(samples, 3).tolist() == expected
    assert acq.bald(samples, 1).tolist() == expected[:1]  # a batch of one is plain BALD


def test_batchbald_avoids_duplicates_that_top_k_bald_picks():
    probs = duplicate_items_probs()
    assert acq.bald(probs, 2).tolist() == [0, 1]  # the copies score highest individually
    picks = acq.batchbald(probs, 2).tolist()
    assert picks == [0, 3]
    assert acq.batchbald_score(probs, [0, 1]) == pytest.approx(acq.batchbald_score(probs, [0]))  # copy adds nothing
    assert acq.batchbald_score(probs, picks) > acq.batchbald_score(probs, [0, 1]) + 0.1


def test_batchbald_sampled_joint_is_close_to_exact():
    samples = random_mc_probs(5, n_mc=6, n_items=10, n_classes=3)
    exact = acq.batchbald(samples, 4)
    sampled = acq.batchbald(samples, 4, max_configurations=1, num_samples=20000, rng=0)
    assert sampled[0] == exact[0]
    assert acq.batchbald_score(samples, sampled) >= 0.97 * acq.batchbald_score(samples, exact)
    assert acq.batchbald(duplicate_items_probs(), 3, max_configurations=1, rng=1).tolist()[:2] == [0, 3]
    assert acq.batchbald(samples, 4, max_configurations=1, rng=7).tolist() == \
        acq.batchbald(samples, 4, max_configurations=1, rng=7).tolist()


def blobs():
    centres = np.array([[0, 0], [100, 0], [0, 100], [100, 100]], dtype=float)
    rng = np.random.default_rng(0)
    embeddings = np.concatenate([c + rng.normal(size=(10, 2)) for c in centres])
    return embeddings, np.repeat(np.arange(4), 10)


def test_coreset_picks_far_apart_points():
    embeddings, cluster = blobs()
    picks = acq.coreset(None, 4, embeddings=embeddings)
    assert sorted(cluster[picks].tolist()) == [0, 1, 2, 3]
    distances = np.linalg.norm(embeddings[picks][:, None] - embeddings[picks][None], axis=2)
    assert distances[~np.eye(4, dtype=bool)].min() > 80


def test_coreset_treats_labeled_items_as_centres():
    embeddings, cluster = blobs()
    labeled = cluster == 0
    probs = np.full((40, 2), 0.5)
    picks = acq.coreset(probs, 3, embeddings=embeddings, labeled_mask=labeled)
    assert sorted(cluster[picks].tolist()) == [1, 2, 3]
    assert cluster[picks[0]] == 3  # the cluster farthest from the labeled one comes first


def test_class_balanced_alternates_predicted_classes():
    # The six least confident items all predict class 0; class-balanced interleaves classes 0, 1, 2.
    rows = [[.40, .30, .30]] * 6 + [[.30, .45, .25]] * 3 + [[.20, .30, .50]] * 3
    probs = np.array(rows) + np.linspace(0, 1e-3, 12)[:, None] * [[1, -1, 0]]
    assert acq.confidence(probs, 3).tolist() == [0, 1, 2]
    picks = acq.class_balanced(probs, 6)
    assert probs[picks].argmax(axis=1).tolist() == [0, 1, 2, 0, 1, 2]
    assert picks.tolist() == [0, 8, 9, 1, 7, 10]  # within a class, the base ranking's order
    margin_picks = acq.class_balanced(probs, 4, base='margin')
    assert len(set(probs[margin_picks[:3]].argmax(axis=1).tolist())) == 3


def test_class_balanced_fills_up_when_a_class_runs_out():
    probs = np.array([[.6, .4]] * 5 + [[.4, .6]])
    assert probs[acq.class_balanced(probs, 4)].argmax(axis=1).tolist() == [0, 1, 0, 0]


@pytest.mark.parametrize('k', [0, -1, 6, 2.5, True, '2'])
def test_bad_k(k):
    with pytest.raises(ValueError, match='k'):
        acq.confidence(PROBS, k)


@pytest.mark.parametrize('probs, message', [
    (PROBS * 1.1, 'sum to 1'),
    (np.array([[1.2, -0.2], [0.5, 0.5]]), r'\[0, 1\]'),
    (np.array([[np.nan, 1.0]]), 'finite'),
    (np.array([0.5, 0.5]), 'shape'),
    (np.ones((1, 1, 1, 1)), 'shape'),
    (np.zeros((0, 3)), 'shape'),
])
def test_bad_probabilities(probs, message):
    with pytest.raises(ValueError, match=message):
        acq.margin(probs, 1)


def test_other_bad_input():
    with pytest.raises(ValueError, match='unknown acquisition strategy'):
        acq.rank('most_fun', PROBS, 1)
    with pytest.raises(ValueError, match='unknown certainty metric'):
        acq.certainty(PROBS, 'vibes')
    with pytest.raises(ValueError, match='needs embeddings'):
        acq.coreset(PROBS, 2)
    with pytest.raises(ValueError, match='different numbers'):
        acq.coreset(PROBS, 2, embeddings=np.zeros((4, 3)))
    with pytest.raises(ValueError, match='n_items, n_features'):
        acq.coreset(PROBS, 2, embeddings=np.zeros(5))
    with pytest.raises(ValueError, match='MC samples'):
        acq.batchbald(PROBS, 2)
    with pytest.raises(ValueError, match='labeled_mask'):
        acq.confidence(PROBS, 2, labeled_mask=np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match='labeled_mask'):
        acq.confidence(PROBS, 2, labeled_mask=np.zeros(5))
    with pytest.raises(ValueError, match='exceeds the 1 unlabeled'):
        acq.confidence(PROBS, 2, labeled_mask=np.array([True, True, True, True, False]))
    with pytest.raises(ValueError, match='base strategy'):
        acq.class_balanced(PROBS, 2, base='class_balanced')
