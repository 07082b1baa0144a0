"""Model quality: cross-validated metrics equal scikit-learn's on the same out-of-fold predictions, folds are
stratified and deterministic, and the stopping hint follows its documented rule."""
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix as sk_confusion, f1_score

from histomics_label.core import quality
from histomics_label.core.classifiers import make_classifier
from histomics_label.core.training import labeled_quality


@pytest.mark.parametrize('seed', range(5))
def test_metrics_from_the_confusion_matrix_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n_classes = 4
    y_true = rng.integers(0, n_classes, 60)
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, n_classes, 60))
    if seed == 0:
        y_pred[y_pred == 3] = 2  # a class that is never predicted
    if seed == 1:
        y_true[y_true == 1] = 0  # a class that is predicted but never a label
    confusion = quality.confusion_matrix(y_true, y_pred, n_classes)
    assert np.array_equal(confusion, sk_confusion(y_true, y_pred, labels=range(n_classes)))
    metrics = quality.metrics_from_confusion(confusion)
    assert metrics['accuracy'] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    assert metrics['macroF1'] == pytest.approx(f1_score(y_true, y_pred, average='macro', zero_division=0),
                                               abs=1e-12)


def test_an_empty_confusion_matrix_has_no_metrics():
    assert quality.metrics_from_confusion(np.zeros((3, 3))) == {'accuracy': None, 'macroF1': None}


def test_folds_are_stratified_balanced_and_seeded():
    y = np.array([0] * 23 + [1] * 11 + [2] * 6)
    folds = quality.stratified_folds(y, 5, seed=3)
    assert np.array_equal(folds, quality.stratified_folds(y, 5, seed=3))
    assert not np.array_equal(folds, quality.stratified_folds(y, 5, seed=4))
    sizes = np.bincount(folds)
    assert len(sizes) == 5 and sizes.max() - sizes.min() <= 1
    for category, count in ((0, 23), (1, 11), (2, 6)):
        per_fold = np.bincount(folds[y == category], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1 and per_fold.sum() == count
    assert set(quality.stratified_folds(np.array([0, 1, 1]), 5)) == {0, 1, 2}  # never more folds than labels


def separable(n_per_class=30, dim=8, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (classes, dim))
    y = np.repeat(np.arange(classes), n_per_class)
    return (centres[y] + rng.normal(0, 1, (len(y), dim))).astype(np.float32), y


def test_cross_validation_matches_scikit_learn_on_its_out_of_fold_predictions():
    X, y = separable(seed=1)
    y[::7] = (y[::7] + 1) % 3  # some label noise, so the metrics are not all 1

    def make_model():
        return make_classifier('logistic', categories=['a', 'b', 'c', 'excluded'], excluded=['excluded'], seed=0)

    predicted, folds = quality.cross_validated_predictions(X, y, make_model, folds=5, seed=0)
    assert folds == 5 and np.all(predicted >= 0)
    # the same folds and model, done by hand with scikit-learn's own estimator and metrics
    from sklearn.linear_model import LogisticRegression

    assignment = quality.stratified_folds(y, 5, seed=0)
    by_hand = np.empty_like(y)
    for fold in range(5):
        test = assignment == fold
        mean, std = X[~test].mean(axis=0), X[~test].std(axis=0)
        model = LogisticRegression(max_iter=200, random_state=0, class_weight='balanced')
        by_hand[test] = model.fit((X[~test] - mean) / std, y[~test]).predict((X[test] - mean) / std)
    assert (by_hand == predicted).mean() > 0.97  # same model up to its solver's tolerance
    result = quality.epoch_quality(X, y, make_model, classes=[0, 1, 2], folds=5, seed=0)
    assert result['labels'] == result['evaluated'] == len(y) and result['folds'] == 5
    assert np.array_equal(result['confusion'], sk_confusion(y, predicted, labels=[0, 1, 2]))
    assert result['accuracy'] == pytest.approx(accuracy_score(y, predicted), abs=1e-12)
    assert result['macroF1'] == pytest.approx(f1_score(y, predicted, average='macro'), abs=1e-12)
    assert 0.7 < result['accuracy'] < 1


def test_folds_without_two_trainable_categories_are_skipped():
    X, y = separable(n_per_class=4, classes=2)
    y = np.array([0] * 7 + [1])  # the one label of category 1 leaves a training fold with category 0 only

    def make_model():
        return make_classifier('logistic', categories=['a', 'b'], seed=0)

    predicted, _ = quality.cross_validated_predictions(X, y, make_model, folds=5)
    assignment = quality.stratified_folds(y, 5)
    assert np.array_equal(predicted < 0, assignment == assignment[7])  # the whole fold of that label
    result = quality.epoch_quality(X, y, make_model, classes=[0, 1])
    assert result['labels'] == 8 and result['evaluated'] == 8 - (assignment == assignment[7]).sum()


def test_labeled_quality_of_an_epoch_covers_trainable_categories_in_column_order():
    X, y = separable(seed=2)
    slides = {0: (np.arange(45), X[:45]), 4: (np.arange(45), X[45:])}
    labels = [(0 if row < 45 else 4, row % 45, [0, 2, 3][category]) for row, category in enumerate(y)]
    labels.append((0, 44, 1))  # a label of the excluded category is not evaluated
    result = labeled_quality(slides, labels, ['a', 'skip', 'b', 'c'], excluded=['skip'],
                             model_kind='logistic')
    assert result['classes'] == [0, 2, 3]
    assert result['labels'] == 90 and np.asarray(result['confusion']).shape == (3, 3)
    assert result['accuracy'] > 0.95


def point(epoch, labels, f1):
    return {'epoch': epoch, 'labels': labels, 'accuracy': f1, 'macroF1': f1}


@pytest.mark.parametrize('curve, flat', [
    ([], False),
    ([point(1, 20, 0.5), point(2, 40, 0.6)], False),  # too few epochs
    ([point(1, 20, 0.5), point(2, 40, 0.7), point(3, 60, 0.8), point(4, 80, 0.85)], False),  # still rising
    ([point(1, 20, 0.5), point(2, 40, 0.80), point(3, 60, 0.805), point(4, 80, 0.80), point(5, 100, 0.806)],
     True),
    ([point(1, 20, 0.5), point(2, 40, 0.80), point(3, 60, 0.80), point(4, 80, 0.85), point(5, 100, 0.805)],
     False),  # a peak inside the window: not settled
    ([point(1, 20, 0.5), point(2, 40, 0.80), point(3, 60, 0.85), point(4, 80, 0.80), point(5, 100, 0.805)],
     True),  # falling since the window's start: no gain
    ([point(1, 20, 0.5), point(2, 90, 0.8), point(3, 95, 0.8), point(4, 100, 0.8)], False),  # span too short
    ([point(e, 400 + 10 * e, 0.9) for e in range(1, 15)], True),  # span 25% of 540 = 135 labels
])
def test_stopping_hint(curve, flat):
    hint = quality.stopping_hint(curve)
    assert hint['flat'] is flat, hint
    assert hint['metric'] == 'macroF1' and hint['reason']
    if flat:
        window = hint['window']
        assert window['toLabels'] - window['fromLabels'] >= hint['span'] // 2
        assert hint['gain'] < quality.STOP_GAIN
