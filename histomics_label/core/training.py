"""One training epoch over a whole project: fit on the labeled superpixels' features, predict every
superpixel of every slide, score certainty, and rank what to label next with the acquisition strategy.

The output arrays are what the server stores per epoch (see ``models/prediction.py``): rows are
superpixels, ``predicted`` indexes ``categories`` (all of the project's categories, excluded ones never
predicted), and ``ranking`` lists rows in acquisition order: unlabeled superpixels first.
"""
import numpy as np

from .acquisition import CERTAINTY_METRICS, certainty as certainty_of, rank
from .classifiers import make_classifier

#: strategies that cannot rank a million items at once pick this many, the rest follow by certainty
EXPENSIVE_TOP = {'batchbald': 100, 'coreset': 2000, 'class_balanced': 2000}


def train_and_predict(slides, labels, categories, excluded=(), model_kind='mlp', backend=None,
                      strategy='confidence', mc_samples=20, seed=0, model_params=None):
    """Train a classifier and predict every superpixel.

    :param slides: ``{slide_index: (ids, X)}``: superpixel ids and their features (embeddings or patches).
    :param labels: ``(n, 3)`` rows of (slide index, superpixel id, category index into ``categories``).
    :returns: ``(arrays, model)``; ``arrays`` has slide_index, superpixel, predicted, probabilities,
        certainty and ranking.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1, 3)
    if not len(labels):
        raise ValueError('no labels to train on')
    order = sorted(slides)
    slide_index = np.concatenate([np.full(len(slides[i][0]), i) for i in order])
    superpixel = np.concatenate([np.asarray(slides[i][0], dtype=np.int64) for i in order])
    X = np.concatenate([slides[i][1] for i in order])
    row_of = {(int(s), int(p)): row for row, (s, p) in enumerate(zip(slide_index, superpixel))}
    missing = [tuple(label[:2]) for label in labels if (label[0], label[1]) not in row_of]
    if missing:
        raise ValueError('%d labels name superpixels without features, e.g. slide %d superpixel %d'
                         % (len(missing), missing[0][0], missing[0][1]))
    rows = np.array([row_of[(s, p)] for s, p, _ in labels])
    model = make_classifier(model_kind, backend, categories=list(categories), excluded=list(excluded),
                            seed=seed, **(model_params or {}))
    model.fit(X[rows], labels[:, 2])
    use_mc = bool(mc_samples) and model.supports_mc and float(model.params.get('dropout', 0)) > 0
    samples = model.predict_proba(X, mc_samples=mc_samples) if use_mc else None
    mean = samples.mean(axis=0) if use_mc else model.predict_proba(X)
    if strategy in ('bald', 'batchbald') and not use_mc:
        strategy = 'margin'  # a model without dropout has no MC samples to measure disagreement with
    probs = samples if use_mc else mean
    certainty = certainty_of(probs, strategy if strategy in CERTAINTY_METRICS else 'confidence')
    full = model.mapping.expand(mean)
    arrays = {
        'slide_index': slide_index, 'superpixel': superpixel, 'predicted': full.argmax(axis=1),
        'probabilities': full.astype(np.float32), 'certainty': certainty.astype(np.float32),
        'ranking': acquisition_order(strategy, probs, certainty, rows, X, seed)}
    return arrays, model


def acquisition_order(strategy, probs, certainty, labeled_rows, X, seed=0):
    """All rows: unlabeled ones in ``strategy`` order (expensive strategies pick their top, the rest
    follow least certain first), then labeled ones least certain first."""
    labeled = np.zeros(len(certainty), dtype=bool)
    labeled[labeled_rows] = True
    by_certainty = np.argsort(certainty, kind='stable')
    unlabeled = by_certainty[~labeled[by_certainty]]
    top = []
    if strategy in EXPENSIVE_TOP and len(unlabeled):
        k = min(EXPENSIVE_TOP[strategy], len(unlabeled))
        embeddings = X.reshape(len(X), -1) if strategy == 'coreset' else None
        top = rank(strategy, probs, k, embeddings=embeddings, labeled_mask=labeled,
                   rng=np.random.default_rng(seed))
    elif len(unlabeled):
        top = rank(strategy, probs, len(unlabeled), labeled_mask=labeled)
    top = np.asarray(top, dtype=np.int64)
    picked = np.zeros(len(certainty), dtype=bool)
    picked[top] = True
    rest = unlabeled[~picked[unlabeled]]
    return np.concatenate([top, rest, by_certainty[labeled[by_certainty]]]).astype(np.int64)
