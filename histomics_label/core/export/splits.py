"""Train / validation / test splits of slides or patients, deterministic for a seed."""
import numpy as np

SPLITS = ('train', 'val', 'test')


def split_counts(count, ratios):
    """How many of ``count`` units each split gets: the ratios' shares rounded by largest remainder (ties go
    to the earlier split), so the counts always add up to ``count``."""
    ratios = np.asarray(ratios, dtype=np.float64)
    if ratios.shape != (len(SPLITS),) or (ratios < 0).any() or abs(ratios.sum() - 1) > 1e-6:
        raise ValueError('ratios are %d non-negative numbers summing to 1, got %r' % (len(SPLITS), ratios.tolist()))
    shares = ratios * count
    counts = np.floor(shares).astype(int)
    remainder = shares - counts
    for index in sorted(range(len(SPLITS)), key=lambda i: (-remainder[i], i))[:count - counts.sum()]:
        counts[index] += 1
    return counts


def assign_splits(units, ratios, seed):
    """unit -> split name for the distinct ``units`` (strings): they are sorted, shuffled with ``seed`` and cut
    by :func:`split_counts`, so the same units, ratios and seed always give the same assignment."""
    units = sorted(set(units))
    order = np.random.default_rng(seed).permutation(len(units))
    bounds = np.cumsum(split_counts(len(units), ratios))
    return {units[i]: SPLITS[int(np.searchsorted(bounds, rank, side='right'))] for rank, i in enumerate(order)}
