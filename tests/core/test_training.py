"""A training epoch over several slides: predictions for every superpixel and an acquisition ranking."""
import numpy as np
import pytest

from histomics_label.core.training import train_and_predict


def two_slides(seed=0, per_slide=200, dim=16):
    """Two slides of superpixels whose features form three separable clusters (class = id % 3)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (3, dim))
    slides = {}
    for index in (0, 3):  # slide indices need not be contiguous
        ids = np.arange(per_slide)
        slides[index] = (ids, (centres[ids % 3] + rng.normal(0, 1, (per_slide, dim))).astype(np.float32))
    return slides


@pytest.mark.parametrize('strategy', ['confidence', 'margin', 'negative_entropy', 'bald', 'batchbald',
                                      'coreset', 'class_balanced'])
def test_every_superpixel_is_predicted_and_ranked(strategy):
    slides = two_slides()
    labels = [(0, i, i % 3) for i in range(0, 30)] + [(3, i, i % 3) for i in range(0, 15)]
    arrays, model = train_and_predict(slides, labels, ['a', 'b', 'c', 'ignored'], excluded=['ignored'],
                                      model_kind='mlp', strategy=strategy, mc_samples=8)
    n = 400
    assert arrays['probabilities'].shape == (n, 4) and np.all(arrays['probabilities'][:, 3] == 0)
    assert np.all(arrays['predicted'] != 3)  # the excluded category is never predicted
    truth = np.concatenate([np.arange(200) % 3, np.arange(200) % 3])
    assert (arrays['predicted'] == truth).mean() > 0.95
    ranking = arrays['ranking']
    assert sorted(ranking.tolist()) == list(range(n))  # a permutation of all rows
    labeled_rows = {i for i in range(30)} | {200 + i for i in range(15)}
    assert set(ranking[-45:].tolist()) == labeled_rows  # labeled superpixels go last
    assert model.training_size == 45


def test_cheap_strategies_rank_least_certain_first():
    arrays, _ = train_and_predict(two_slides(1), [(0, i, i % 3) for i in range(12)], ['a', 'b', 'c'],
                                  model_kind='linear', strategy='confidence')
    head = arrays['ranking'][:50]
    assert np.all(np.diff(arrays['certainty'][head]) >= 0)


def test_bad_training_input():
    with pytest.raises(ValueError, match='no labels'):
        train_and_predict(two_slides(), [], ['a', 'b'])
    with pytest.raises(ValueError, match='without features'):
        train_and_predict(two_slides(), [(0, 5, 0), (1, 5, 1)], ['a', 'b'])
    with pytest.raises(ValueError, match='at least two categories'):
        train_and_predict(two_slides(), [(0, 5, 0), (0, 6, 0)], ['a', 'b'])
