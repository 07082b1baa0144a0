"""Chance-corrected agreement among raters of nominal categories (numpy only).

Input is a *count table*: one row per item (a superpixel), one column per category, each cell the number of
raters who put the item in that category, with an optional multiplicity per row (items with the same counts
share one weighted row: that is how the server stores them, :mod:`histomics_label.models.agreement`). Only
items with two or more raters count; the others are dropped.

- Fleiss' kappa, generalized to a varying number of raters per item as in Gwet (2014, *Handbook of
  Inter-Rater Reliability*, 4th ed.; his irrCAC ``fleiss.kappa.raw``): p_a is the mean over items of the
  share of agreeing (ordered) rater pairs, p_e = sum_k pi_k^2 with pi_k the mean over items of the share of
  raters choosing k. With equal raters per item this is statsmodels' ``fleiss_kappa`` exactly.
  Standard error: Gwet's linearization from the same source, a large-sample SE valid away from kappa = 0
  (not the Fleiss-Nee-Landis variance under the null, which only serves to test kappa = 0), without
  finite-population correction (the items are a sample of what could be labeled).
- Krippendorff's alpha, nominal, from the coincidence matrix (Krippendorff 2011). It has no analytic SE: its
  interval comes from a bootstrap over items (:func:`bootstrap_alpha`).
- Per category: the same statistics on the category-vs-rest table (for Fleiss that is his 1971 category
  kappa).
- Cohen's kappa of two raters from their confusion matrix; SE by Fleiss, Cohen & Everitt (1969), as
  statsmodels' ``cohens_kappa`` (``std_kappa``).

Intervals are estimate +- z * SE with the normal quantile z, clipped to [-1, 1].
"""
import statistics

import numpy as np


def z_value(confidence):
    """The two-sided normal quantile for a confidence level in (0, 1)."""
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def _value(x):
    """A float for JSON, None for an undefined (nan) statistic."""
    return None if x is None or not np.isfinite(x) else float(x)


def _interval(estimate, se, confidence):
    if not (np.isfinite(estimate) and np.isfinite(se)):
        return None, None
    half = z_value(confidence) * se
    return max(-1.0, float(estimate - half)), min(1.0, float(estimate + half))


def co_labeled(counts, weights=None):
    """(counts, weights) as float arrays, restricted to items with two or more raters."""
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2:
        raise ValueError('A count table is items x categories, got shape %s.' % (counts.shape,))
    weights = np.ones(len(counts)) if weights is None else np.asarray(weights, dtype=float)
    keep = (counts.sum(axis=1) >= 2) & (weights > 0)
    return counts[keep], weights[keep]


def pair_terms(counts):
    """Per item, its ordered rater pairs by (category, category), flattened: r r^T - diag(r), shape (n, K*K)."""
    outer = counts[:, :, None] * counts[:, None, :]
    index = np.arange(counts.shape[1])
    outer[:, index, index] -= counts
    return outer.reshape(len(counts), -1)


def pair_matrices(counts, weights):
    """(O, F): the K x K sums over items of the ordered rater pairs divided by m - 1 (Krippendorff's coincidence
    matrix) and by m (m - 1) (whose trace / n is Fleiss' p_a and row sums / n are his pi), m the item's raters."""
    m = counts.sum(axis=1)
    index = np.arange(counts.shape[1])
    matrices = []
    for scale in (weights / (m - 1), weights / (m * (m - 1))):
        matrix = (counts * scale[:, None]).T @ counts
        matrix[index, index] -= (counts * scale[:, None]).sum(axis=0)
        matrices.append(matrix)
    return tuple(matrices)


def one_vs_rest(matrix):
    """(..., K, K) pair matrices -> (..., K, 2, 2): category k against all others, for each k."""
    diagonal = np.diagonal(matrix, axis1=-2, axis2=-1)
    rows, columns = matrix.sum(axis=-1), matrix.sum(axis=-2)
    total = matrix.sum(axis=(-1, -2))[..., None]
    return np.stack([np.stack([diagonal, rows - diagonal], -1),
                     np.stack([columns - diagonal, total - rows - columns + diagonal], -1)], -2)


def alpha_from_coincidences(coincidence):
    """Nominal Krippendorff's alpha of (..., K, K) coincidence matrices (nan where undefined)."""
    total = coincidence.sum(axis=(-1, -2))
    margins = coincidence.sum(axis=-1)
    observed = total - np.trace(coincidence, axis1=-2, axis2=-1)
    expected = total ** 2 - (margins ** 2).sum(axis=-1)
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(expected > 0, 1 - (total - 1) * observed / expected, np.nan)


def kappa_from_pairs(fleiss_matrix, items):
    """(kappa, p_a, p_e, pi) of Fleiss from (..., K, K) matrices F of :func:`pair_matrices` over ``items``."""
    agreement = np.trace(fleiss_matrix, axis1=-2, axis2=-1) / items
    shares = fleiss_matrix.sum(axis=-1) / np.asarray(items)[..., None]
    chance = (shares ** 2).sum(axis=-1)
    with np.errstate(divide='ignore', invalid='ignore'):
        kappa = np.where(chance < 1, (agreement - chance) / (1 - chance), np.nan)
    return kappa, agreement, chance, shares


def gwet_se(counts, weights, kappa, chance, shares):
    """Gwet's standard error of Fleiss' kappa (see the module docstring)."""
    items = weights.sum()
    if items < 2 or not np.isfinite(kappa):
        return np.nan
    m = counts.sum(axis=1)
    agreement_i = ((counts ** 2).sum(axis=1) - m) / (m * (m - 1))
    chance_i = counts @ shares / m
    kappa_i = (agreement_i - chance) / (1 - chance)
    linearized = kappa_i - 2 * (1 - kappa) * (chance_i - chance) / (1 - chance)
    return float(np.sqrt((weights * (linearized - kappa) ** 2).sum() / (items * (items - 1))))


def _fleiss(counts, weights, fleiss_matrix, confidence):
    items = weights.sum()
    if not items:
        return {'kappa': None, 'se': None, 'low': None, 'high': None, 'pa': None, 'pe': None}
    kappa, agreement, chance, shares = kappa_from_pairs(fleiss_matrix, items)
    se = gwet_se(counts, weights, kappa, chance, shares)
    low, high = _interval(kappa, se, confidence)
    return {'kappa': _value(kappa), 'se': _value(se), 'low': low, 'high': high, 'pa': _value(agreement),
            'pe': _value(chance)}


def fleiss_kappa(counts, weights=None, confidence=0.95):
    """Fleiss' kappa with Gwet's SE: {kappa, se, low, high, pa, pe, items}."""
    counts, weights = co_labeled(counts, weights)
    return dict(_fleiss(counts, weights, pair_matrices(counts, weights)[1], confidence),
                items=int(weights.sum()))


def krippendorff_alpha(counts, weights=None):
    """Nominal Krippendorff's alpha, or None when undefined (no items, or a single category used)."""
    counts, weights = co_labeled(counts, weights)
    if not len(counts):
        return None
    return _value(alpha_from_coincidences(pair_matrices(counts, weights)[0]))


def bootstrap_alpha(counts, weights=None, resamples=1000, confidence=0.95, seed=0):
    """Percentile intervals of alpha, overall and per category (one vs rest), from ``resamples`` bootstrap
    samples of the items. Drawing n items with replacement is drawing a multinomial over the weighted rows, so
    the cost is resamples x rows x K^2, whatever the number of items. Returns ((low, high), [(low, high)] * K)."""
    counts, weights = co_labeled(counts, weights)
    categories = counts.shape[1]
    if not len(counts) or resamples < 1:
        return (None, None), [(None, None)] * categories
    items = int(round(weights.sum()))
    draws = np.random.default_rng(seed).multinomial(items, weights / weights.sum(), size=resamples)
    scaled = pair_terms(counts) / (counts.sum(axis=1) - 1)[:, None]
    coincidences = (draws @ scaled).reshape(resamples, categories, categories)
    overall = alpha_from_coincidences(coincidences)
    per_category = alpha_from_coincidences(one_vs_rest(coincidences))  # (resamples, K)
    quantiles = [(1 - confidence) / 2, (1 + confidence) / 2]

    def interval(samples):
        samples = samples[np.isfinite(samples)]
        if not len(samples):
            return None, None
        low, high = np.quantile(samples, quantiles)
        return float(low), float(high)

    return interval(overall), [interval(per_category[:, k]) for k in range(categories)]


def summarize(counts, weights=None, confidence=0.95, resamples=1000, seed=0):
    """Every multi-rater statistic of a count table at once: {items, values, fleiss, krippendorff, categories:
    [{values, fleiss, krippendorff}] in column order}. ``resamples`` 0 skips the bootstrap (alpha intervals
    None)."""
    counts, weights = co_labeled(counts, weights)
    categories = counts.shape[1]
    items = weights.sum()
    coincidence, fleiss_matrix = pair_matrices(counts, weights)
    alpha, alphas = alpha_from_coincidences(coincidence), alpha_from_coincidences(one_vs_rest(coincidence))
    alpha_ci, alpha_cis = bootstrap_alpha(counts, weights, resamples, confidence, seed)

    def krippendorff(value, interval):
        return {'alpha': _value(value) if items else None, 'low': interval[0], 'high': interval[1],
                'resamples': int(resamples)}

    rest = counts.sum(axis=1)
    per_category = one_vs_rest(fleiss_matrix)
    return {
        'items': int(items), 'values': int((counts.sum(axis=1) * weights).sum()),
        'fleiss': _fleiss(counts, weights, fleiss_matrix, confidence),
        'krippendorff': krippendorff(alpha, alpha_ci),
        'categories': [{
            'values': int((counts[:, k] * weights).sum()),
            'fleiss': _fleiss(np.stack([counts[:, k], rest - counts[:, k]], axis=1), weights, per_category[k],
                              confidence),
            'krippendorff': krippendorff(alphas[k], alpha_cis[k])} for k in range(categories)],
    }


def cohen_kappa(confusion, confidence=0.95):
    """Cohen's kappa of two raters from their K x K confusion matrix (rows: first rater), with the Fleiss,
    Cohen & Everitt (1969) large-sample SE: {kappa, se, low, high, items}."""
    table = np.asarray(confusion, dtype=float)
    items = table.sum()
    if not items:
        return {'kappa': None, 'se': None, 'low': None, 'high': None, 'items': 0}
    p = table / items
    rows, columns = p.sum(axis=1), p.sum(axis=0)
    observed, chance = np.trace(p), rows @ columns
    if chance >= 1:
        return {'kappa': None, 'se': None, 'low': None, 'high': None, 'items': int(items)}
    kappa = (observed - chance) / (1 - chance)
    diagonal = (np.diag(p) * (1 - (rows + columns) * (1 - kappa)) ** 2).sum()
    off = p * (columns[:, None] + rows[None, :]) ** 2
    np.fill_diagonal(off, 0)
    variance = (diagonal + (1 - kappa) ** 2 * off.sum() - (kappa - chance * (1 - kappa)) ** 2) / (
        (1 - chance) ** 2 * items)
    se = np.sqrt(max(variance, 0.0))
    low, high = _interval(kappa, se, confidence)
    return {'kappa': float(kappa), 'se': float(se), 'low': low, 'high': high, 'items': int(items)}
