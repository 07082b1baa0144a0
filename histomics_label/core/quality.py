"""How good is the model: cross-validated accuracy, macro-F1 and confusion on the labels, the learning curve
over epochs, and a hint to stop labeling once that curve has flattened.

Cross-validation: the labels are dealt into ``folds`` stratified folds (each category's labels shuffled with
the seed, then dealt round robin); every fold is predicted by a model trained on the others, exactly as the
epoch's model is made (same kind, parameters and seed). Folds whose training part has fewer than two
trainable categories are skipped (their labels are not evaluated). Metrics come from the pooled out-of-fold
predictions, like scikit-learn's ``cross_val_predict`` followed by its metrics.

Stopping hint: the learning curve (macro-F1 against the number of labels, one point per epoch with a quality)
is *flat* when the epochs of the last ``span`` labels, ``span = max(STOP_MIN_SPAN, STOP_FRACTION x labels)``,
are at least ``STOP_MIN_EPOCHS`` and macro-F1 rose by less than ``STOP_GAIN`` over them (the newest value
minus the oldest in the window, the best of the window not more than ``STOP_GAIN`` above the oldest either).
"""
import numpy as np

MAX_FOLDS = 5
STOP_MIN_SPAN = 50
STOP_FRACTION = 0.25
STOP_MIN_EPOCHS = 3
STOP_GAIN = 0.01


def stratified_folds(y, folds=MAX_FOLDS, seed=0):
    """Fold number of each label: every category's labels shuffled (seeded) and dealt round robin, the
    dealing continuing from category to category so fold sizes differ by at most one."""
    y = np.asarray(y)
    folds = max(2, min(int(folds), len(y)))
    rng = np.random.default_rng([seed, 0xCF])
    assignment = np.empty(len(y), dtype=np.int64)
    offset = 0
    for category in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == category))
        assignment[members] = (offset + np.arange(len(members))) % folds
        offset += len(members)
    return assignment


def cross_validated_predictions(X, y, make_model, folds=MAX_FOLDS, seed=0):
    """Out-of-fold predicted category of each label (-1 where its fold could not be trained), and the
    number of folds used. ``make_model()`` builds a fresh, unfitted classifier."""
    y = np.asarray(y)
    assignment = stratified_folds(y, folds, seed)
    predicted = np.full(len(y), -1, dtype=np.int64)
    for fold in np.unique(assignment):
        test = assignment == fold
        model = make_model()
        columns, trainable = model.mapping.labels_to_columns(y[~test])
        if len(np.unique(columns[trainable])) < 2:
            continue
        model.fit(X[~test], y[~test])
        predicted[test] = model.predict(X[test])
    return predicted, int(len(np.unique(assignment)))


def confusion_matrix(y_true, y_pred, n_classes):
    """``counts[i, j]``: labels of class ``i`` predicted ``j`` (classes ``0 .. n_classes - 1``)."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return counts


def metrics_from_confusion(confusion):
    """``accuracy`` and ``macroF1`` of a confusion matrix (rows true, columns predicted).

    Macro-F1 averages the F1 of every class that occurs as a label or a prediction (F1 = 2TP / (2TP + FP +
    FN)), as scikit-learn's ``f1_score(average='macro')`` does by default. None for an empty matrix."""
    confusion = np.asarray(confusion, dtype=np.float64)
    total = confusion.sum()
    if total == 0:
        return {'accuracy': None, 'macroF1': None}
    tp = np.diag(confusion)
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    present = (support + predicted) > 0
    f1 = 2 * tp[present] / (support[present] + predicted[present])
    return {'accuracy': float(tp.sum() / total), 'macroF1': float(f1.mean())}


def epoch_quality(X, y, make_model, classes, folds=MAX_FOLDS, seed=0):
    """Cross-validated quality of a model kind on labels ``y`` (category indices) of rows ``X``.

    ``classes`` are the category indices the confusion matrix covers (in its row/column order), e.g. the
    trainable categories. Returns ``{labels, evaluated, folds, confusion, accuracy, macroF1}``."""
    y = np.asarray(y, dtype=np.int64)
    classes = np.asarray(classes, dtype=np.int64)
    position = {int(c): i for i, c in enumerate(classes)}
    inside = np.isin(y, classes)
    predicted, used = cross_validated_predictions(X[inside], y[inside], make_model, folds, seed)
    evaluated = predicted >= 0
    truth = np.array([position[int(c)] for c in y[inside][evaluated]], dtype=np.int64)
    guess = np.array([position[int(c)] for c in predicted[evaluated]], dtype=np.int64)
    confusion = confusion_matrix(truth, guess, len(classes))
    return dict({'labels': int(inside.sum()), 'evaluated': int(evaluated.sum()), 'folds': used,
                 'confusion': confusion.tolist()}, **metrics_from_confusion(confusion))


def stopping_hint(curve, metric='macroF1'):
    """Whether the learning curve has flattened (see the module docstring).

    :param curve: points ``{'epoch', 'labels', metric}`` in epoch order (points without the metric are
        ignored).
    :returns: ``{flat, metric, span, window: {fromEpoch, toEpoch, fromLabels, toLabels} or None, gain,
        reason}``."""
    points = [p for p in curve if p.get(metric) is not None]
    hint = {'flat': False, 'metric': metric, 'span': None, 'window': None, 'gain': None}
    if not points:
        return dict(hint, reason='No epoch has a quality estimate yet.')
    newest = points[-1]
    span = int(max(STOP_MIN_SPAN, np.ceil(STOP_FRACTION * newest['labels'])))
    window = [p for p in points if p['labels'] >= newest['labels'] - span]
    oldest = window[0]
    hint['span'] = span
    if len(window) < STOP_MIN_EPOCHS or newest['labels'] - oldest['labels'] < span // 2:
        return dict(hint, reason='Too few epochs over the last %d labels to tell (need %d epochs spanning at '
                                 'least %d labels).' % (span, STOP_MIN_EPOCHS, span // 2))
    gain = newest[metric] - oldest[metric]
    best_gain = max(p[metric] for p in window) - oldest[metric]
    hint.update(gain=round(float(gain), 4), window={
        'fromEpoch': oldest['epoch'], 'toEpoch': newest['epoch'], 'fromLabels': oldest['labels'],
        'toLabels': newest['labels']})
    if gain < STOP_GAIN and best_gain <= STOP_GAIN:
        return dict(hint, flat=True, reason='%s rose by %+.3f over the last %d labels (epochs %d-%d): the '
                    'curve has flattened; more labels of the same kind are unlikely to help much.' % (
                        metric, gain, newest['labels'] - oldest['labels'], oldest['epoch'], newest['epoch']))
    return dict(hint, reason='%s rose by %+.3f over the last %d labels: still learning.' % (
        metric, gain, newest['labels'] - oldest['labels']))
