"""Agreement statistics checked against reference implementations on fixed data: statsmodels (Fleiss' kappa,
Cohen's kappa and its standard error), scikit-learn (Cohen's kappa), the krippendorff package (alpha) and the
values Gwet publishes for his irrCAC datasets (Fleiss' kappa with unequal raters and its standard error)."""
import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from histomics_label.core import agreement as ag

NA = np.nan
# Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed. (irrCAC datasets raw_5observers, raw_gender):
# ratings per unit (rows) by rater (columns), and his Fleiss' kappa results (pa, pe, kappa, se), 3 digits.
FIVE_OBSERVERS = np.array([
    [1, 1, 2, NA, 2], [1, 1, 0, 1, NA], [2, 3, 3, 3, NA], [NA, 0, 0, NA, 0], [0, 0, 0, NA, 0],
    [0, 0, 0, NA, 0], [1, 0, 2, NA, 1], [1, NA, 2, 0, NA], [2, 2, 2, NA, 2], [2, 1, 1, 1, NA],
    [NA, 1, 0, 0, NA], [0, 0, 0, 0, NA], [1, 2, 2, 2, NA], [3, 3, 2, 2, 3], [1, 1, 1, NA, 1]])
FIVE_OBSERVERS_GWET = (0.616, 0.291, 0.458, 0.120)
GENDER = np.array([[ord(c) - ord('a') for c in rater.split()] for rater in (
    'a a a a a b b b c a a a a a b', 'a a a a b a b c c a a a a b a', 'a b b c a a b b c a b b c a a',
    'c c c c a a b b c c c c c a a')], dtype=float).T
GENDER_GWET = (0.456, 0.375, 0.129, 0.141)
# Fleiss (1971): 6 psychiatrists, 15 patients, 5 diagnoses (irrCAC dataset distrib_6raters)
FLEISS_1971 = np.array([
    [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0], [2, 0, 4, 0, 0],
    [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6], [1, 0, 0, 5, 0], [1, 1, 0, 4, 0],
    [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1]])


def counts_of(ratings, categories):
    """Units x raters (nan: not rated) -> units x categories counts."""
    return np.array([[np.sum(row == c) for c in range(categories)] for row in ratings])


def random_ratings(seed, units=80, raters=5, categories=4, missing=0.3, accuracy=0.6):
    """Noisy ratings of a hidden truth with missing values (every unit keeps at least one rating)."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(categories, size=units, p=np.arange(1, categories + 1) / np.arange(1, categories + 1).sum())
    ratings = np.where(rng.random((units, raters)) < accuracy, truth[:, None],
                       rng.integers(0, categories, size=(units, raters))).astype(float)
    ratings[rng.random((units, raters)) < missing] = np.nan
    ratings[np.isnan(ratings).all(axis=1), 0] = truth[np.isnan(ratings).all(axis=1)]
    return ratings


@pytest.mark.parametrize('seed', range(5))
def test_fleiss_equals_statsmodels_with_equal_raters_overall_and_per_category(seed):
    ratings = random_ratings(seed, missing=0)
    table, _ = aggregate_raters(ratings.astype(int), n_cat=4)
    result = ag.summarize(table, resamples=0)
    assert result['fleiss']['kappa'] == pytest.approx(fleiss_kappa(table), abs=1e-12)
    assert ag.fleiss_kappa(table)['kappa'] == pytest.approx(fleiss_kappa(table), abs=1e-12)
    for k, category in enumerate(result['categories']):
        binary = np.stack([table[:, k], table.sum(axis=1) - table[:, k]], axis=1)
        assert category['fleiss']['kappa'] == pytest.approx(fleiss_kappa(binary), abs=1e-12)
        assert category['values'] == table[:, k].sum()


def test_fleiss_1971_example():
    assert ag.fleiss_kappa(FLEISS_1971)['kappa'] == pytest.approx(fleiss_kappa(FLEISS_1971), abs=1e-12)


@pytest.mark.parametrize('ratings, expected, categories', [
    (FIVE_OBSERVERS, FIVE_OBSERVERS_GWET, 4), (GENDER, GENDER_GWET, 3)])
def test_fleiss_with_unequal_raters_and_gwet_standard_error_match_gwets_published_values(
        ratings, expected, categories):
    result = ag.fleiss_kappa(counts_of(ratings, categories))
    assert [round(result[key], 3) for key in ('pa', 'pe', 'kappa', 'se')] == list(expected)
    z = ag.z_value(0.95)
    assert (result['low'], result['high']) == pytest.approx(
        (result['kappa'] - z * result['se'], result['kappa'] + z * result['se']))


@pytest.mark.parametrize('seed', range(5))
def test_alpha_equals_the_krippendorff_package_with_missing_ratings_overall_and_per_category(seed):
    ratings = random_ratings(seed)
    counts = counts_of(ratings, 4)
    result = ag.summarize(counts, resamples=0)
    expected = krippendorff.alpha(reliability_data=ratings.T, level_of_measurement='nominal')
    assert result['krippendorff']['alpha'] == pytest.approx(expected, abs=1e-12)
    assert ag.krippendorff_alpha(counts) == pytest.approx(expected, abs=1e-12)
    for k, category in enumerate(result['categories']):
        binary = np.where(np.isnan(ratings), np.nan, (ratings == k).astype(float))
        assert category['krippendorff']['alpha'] == pytest.approx(
            krippendorff.alpha(reliability_data=binary.T, level_of_measurement='nominal'), abs=1e-12)
    assert result['items'] == int((counts.sum(axis=1) >= 2).sum())
    assert result['values'] == int(counts[counts.sum(axis=1) >= 2].sum())


def flat(value, path=''):
    """{path: number} of a nested result (None kept), for comparisons with pytest.approx."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flat(item, path + '.' + key).items()}
    if isinstance(value, list):
        return {k: v for index, item in enumerate(value) for k, v in flat(item, '%s[%d]' % (path, index)).items()}
    return {path: value}


def test_weighted_rows_equal_repeated_rows_and_single_raters_do_not_count():
    counts = counts_of(random_ratings(7), 4)
    patterns, weights = np.unique(counts, axis=0, return_counts=True)
    single = np.array([[1, 0, 0, 0], [0, 0, 1, 0]])
    expanded = ag.summarize(np.vstack([counts, single]), resamples=0)
    weighted = ag.summarize(patterns, weights, resamples=0)
    assert len(patterns) < len(counts)
    assert flat(weighted) == pytest.approx(flat(expanded))  # kappa, SE, intervals, alpha, per category too


@pytest.mark.parametrize('seed', range(4))
def test_cohen_equals_sklearn_and_statsmodels_with_its_standard_error(seed):
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 4, size=150)
    second = np.where(rng.random(150) < 0.6, first, rng.integers(0, 4, size=150))
    confusion = np.zeros((4, 4))
    np.add.at(confusion, (first, second), 1)
    result = ag.cohen_kappa(confusion)
    reference = cohens_kappa(confusion)
    assert result['kappa'] == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)
    assert (result['kappa'], result['se'], result['low'], result['high']) == pytest.approx(
        (reference.kappa, reference.std_kappa, reference.kappa_low, reference.kappa_upp), abs=1e-12)
    assert result['items'] == 150


def test_undefined_statistics_are_none():
    unanimous = np.array([[3, 0], [2, 0], [4, 0]])
    result = ag.summarize(unanimous, resamples=50)
    assert result['fleiss']['kappa'] is None and result['krippendorff']['alpha'] is None
    assert result['krippendorff']['low'] is None and result['items'] == 3
    assert ag.cohen_kappa(np.array([[5, 0], [0, 0]]))['kappa'] is None
    assert ag.cohen_kappa(np.zeros((2, 2)))['items'] == 0
    empty = ag.summarize(np.array([[1, 0], [0, 1]]))  # no superpixel with two raters
    assert empty['items'] == 0 and empty['fleiss']['kappa'] is None and empty['krippendorff']['alpha'] is None


def naive_bootstrap(counts, statistic, resamples, seed):
    """Resample the items themselves (the definition)."""
    rng = np.random.default_rng(seed)
    return np.array([statistic(counts[rng.integers(0, len(counts), len(counts))]) for _ in range(resamples)])


def test_bootstrap_over_patterns_matches_resampling_items():
    counts = counts_of(random_ratings(3, units=300), 4)
    counts = counts[counts.sum(axis=1) >= 2]
    patterns, weights = np.unique(counts, axis=0, return_counts=True)
    (low, high), per_category = ag.bootstrap_alpha(patterns, weights, resamples=4000, seed=1)
    naive = naive_bootstrap(counts, ag.krippendorff_alpha, 1500, seed=2)
    assert (low, high) == pytest.approx(tuple(np.quantile(naive, [0.025, 0.975])), abs=0.02)
    assert low < ag.krippendorff_alpha(counts) < high
    binary = np.stack([counts[:, 0], counts.sum(axis=1) - counts[:, 0]], axis=1)
    naive_first = naive_bootstrap(binary, ag.krippendorff_alpha, 1500, seed=3)
    assert per_category[0] == pytest.approx(tuple(np.quantile(naive_first, [0.025, 0.975])), abs=0.03)
    assert ag.bootstrap_alpha(patterns, weights, resamples=4000, seed=1)[0] == (low, high)  # reproducible
    assert ag.summarize(patterns, weights, resamples=0)['krippendorff']['low'] is None


def test_gwet_standard_error_agrees_with_the_bootstrap():
    counts = counts_of(random_ratings(11, units=1500, raters=6, missing=0.5), 4)
    counts = counts[counts.sum(axis=1) >= 2]
    result = ag.fleiss_kappa(counts)
    spread = naive_bootstrap(counts, lambda table: ag.fleiss_kappa(table)['kappa'], 400, seed=4).std()
    assert result['se'] == pytest.approx(spread, rel=0.15)
