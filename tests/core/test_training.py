"""A training epoch over several slides: predictions for every superpixel and an acquisition ranking."""
from unittest import mock

import numpy as np
import pytest

from histomics_label.core import training
from histomics_label.core.acquisition import certainty
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


def test_batchbald_ranks_the_previous_head_then_bald_order():
    """The default's head is the first 20 picks of the former 100-pick BatchBALD (the same greedy run, the
    same seeded configuration draws); every other unlabeled row follows by BALD, most informative first."""
    slides = two_slides(2, per_slide=600)
    labels = [(0, i, i % 3) for i in range(9)]
    assert training.EXPENSIVE_TOP['batchbald'] == 20
    arrays, _ = train_and_predict(slides, labels, ['a', 'b', 'c'], strategy='batchbald', seed=3)
    with mock.patch.dict(training.EXPENSIVE_TOP, {'batchbald': 100}):
        before, _ = train_and_predict(slides, labels, ['a', 'b', 'c'], strategy='batchbald', seed=3)
    ranking, top = arrays['ranking'], training.EXPENSIVE_TOP['batchbald']
    assert ranking[:top].tolist() == before['ranking'][:top].tolist()
    assert ranking[top:100].tolist() != before['ranking'][top:100].tolist()  # the old head went on greedily
    rest = ranking[top:-len(labels)]
    assert np.all(np.diff(arrays['certainty'][rest]) >= 0)  # certainty is minus BALD: least certain first
    assert ranking[top] == min(set(range(1200)) - set(ranking[:top]) - set(range(9)),
                               key=lambda row: (arrays['certainty'][row], row))


@pytest.mark.parametrize('kind,mc_samples,why', [('logistic', 20, 'model kind logistic has no dropout'),
                                                  ('mlp', 0, 'MC-dropout sampling is off (0 samples)')])
@pytest.mark.parametrize('strategy', ['batchbald', 'bald'])
def test_without_mc_samples_batchbald_falls_back_to_margin_and_says_so(kind, mc_samples, why, strategy):
    slides = two_slides(4)
    labels = [(0, i, i % 3) for i in range(15)]
    info = {}
    arrays, _ = train_and_predict(slides, labels, ['a', 'b', 'c'], model_kind=kind, strategy=strategy,
                                  mc_samples=mc_samples, info=info)
    assert info == {'strategy': 'margin', 'note': 'Strategy %s needs MC-dropout samples and %s: ranked by '
                                                  'margin instead.' % (strategy, why)}
    margin, _ = train_and_predict(slides, labels, ['a', 'b', 'c'], model_kind=kind, strategy='margin',
                                  mc_samples=mc_samples, info=info)
    assert arrays['ranking'].tolist() == margin['ranking'].tolist()
    assert np.allclose(arrays['certainty'], certainty(arrays['probabilities'][:, :3], 'margin'), atol=1e-6)
    assert info == {'strategy': 'margin', 'note': None}  # margin itself needs nothing


def test_an_mc_model_ranks_by_batchbald_without_a_note():
    info = {}
    train_and_predict(two_slides(5), [(0, i, i % 3) for i in range(15)], ['a', 'b', 'c'], strategy='batchbald',
                      mc_samples=8, info=info)
    assert info == {'strategy': 'batchbald', 'note': None}


def test_bad_training_input():
    with pytest.raises(ValueError, match='no labels'):
        train_and_predict(two_slides(), [], ['a', 'b'])
    with pytest.raises(ValueError, match='without features'):
        train_and_predict(two_slides(), [(0, 5, 0), (1, 5, 1)], ['a', 'b'])
    with pytest.raises(ValueError, match='at least two categories'):
        train_and_predict(two_slides(), [(0, 5, 0), (0, 6, 0)], ['a', 'b'])
