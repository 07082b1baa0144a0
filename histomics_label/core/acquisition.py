"""Acquisition strategies: which superpixels should a labeler see next.

Every strategy shares one signature and ranks candidates pooled from all slides::

    strategy(probs, k, *, embeddings=None, labeled_mask=None, rng=None) -> indices

``probs`` is ``(n_items, n_classes)`` or, from MC dropout, ``(n_mc, n_items, n_classes)``; ``k`` is how
many to pick (``None`` for every candidate); ``labeled_mask`` marks items that are already labeled (never
picked; coreset treats them as existing centres); ``rng`` is a seed or ``numpy.random.Generator`` used only
where a strategy samples. The result holds item indices, most valuable first. Bad input raises ValueError.

``certainty(probs, metric)`` gives the per-item score stored with predictions (higher = more certain).
"""
import numpy as np

PROB_TOLERANCE = 1e-4


def validate_probs(probs, require_samples=False):
    """Check a probability array and return ``(mean_probs, samples_or_None)`` as float64.

    :raises ValueError: wrong dimensionality, non-finite or negative values, or rows not summing to 1.
    """
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim not in (2, 3) or arr.shape[-1] < 1 or arr.shape[-2] < 1 or arr.size == 0:
        raise ValueError('probs must have shape (n_items, n_classes) or (n_mc, n_items, n_classes), got %r'
                         % (arr.shape,))
    if not np.all(np.isfinite(arr)) or arr.min() < -PROB_TOLERANCE or arr.max() > 1 + PROB_TOLERANCE:
        raise ValueError('probs must be finite values in [0, 1]')
    worst = float(np.max(np.abs(arr.sum(axis=-1) - 1)))
    if worst > PROB_TOLERANCE:
        raise ValueError('probabilities must sum to 1 over classes (largest deviation %.3g)' % worst)
    if require_samples and arr.ndim != 3:
        raise ValueError('this metric needs MC samples: probs of shape (n_mc, n_items, n_classes)')
    arr = np.clip(arr, 0.0, 1.0)
    if arr.ndim == 2:
        return arr, None
    return arr.mean(axis=0), arr


def _p_log_p(p):
    """``p log p`` elementwise in ``p``'s precision (float32 stays float32), with ``0 log 0 = 0`` (zero times
    the log of the smallest normal number): four times faster than ``scipy.special.xlogy``."""
    p = np.asarray(p)
    dtype = p.dtype if p.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    terms = np.log(np.maximum(p, np.finfo(dtype).tiny, dtype=dtype))
    terms *= p
    return terms


def _entropy(p):
    """Shannon entropy (nats) over the last axis, summed by a matrix-vector product (numpy reduces a short
    last axis slowly)."""
    terms = _p_log_p(p)
    return -(terms.reshape(-1, terms.shape[-1]) @ np.ones(terms.shape[-1], terms.dtype)).reshape(terms.shape[:-1])


def _mean_entropy(samples):
    """E_w H(p_w): the entropy of each item's MC samples ``(n_mc, n_items, n_classes)``, averaged over the
    samples in the same product (a view when the samples are stored item by item, as an epoch predicts them)."""
    n_mc, n_items, n_classes = samples.shape
    terms = _p_log_p(np.ascontiguousarray(samples.transpose(1, 0, 2)).reshape(n_items, n_mc * n_classes))
    return terms @ np.full(n_mc * n_classes, -1 / n_mc, terms.dtype)


def _mutual_information(mean, samples):
    """BALD score per item: I(y; w) = H(E_w p) - E_w H(p)."""
    return _entropy(mean) - _mean_entropy(samples)


def _top2(mean):
    """Largest and second-largest probability of each row (a partition, not a sort of every row)."""
    if mean.shape[1] == 1:
        return mean[:, 0], np.zeros(len(mean))
    part = np.partition(mean, mean.shape[1] - 2, axis=-1)
    return part[:, -1], part[:, -2]


def _certainty_confidence(mean, samples):
    return _top2(mean)[0]


def _certainty_margin(mean, samples):
    first, second = _top2(mean)
    return first - second


def _certainty_negative_entropy(mean, samples):
    return -_entropy(mean)


def _certainty_bald(mean, samples):
    return -_mutual_information(mean, samples)


CERTAINTY_METRICS = {
    'confidence': _certainty_confidence,
    'margin': _certainty_margin,
    'negative_entropy': _certainty_negative_entropy,
    'bald': _certainty_bald,
    # The certainty of one item under BatchBALD is its BALD score (a batch of one).
    'batchbald': _certainty_bald,
}
_NEEDS_SAMPLES = {'bald', 'batchbald'}


def certainty(probs, metric='confidence'):
    """Per-item certainty (higher = more certain) under ``metric``, one of ``CERTAINTY_METRICS``.

    ``confidence`` is the top probability, ``margin`` top minus runner-up, ``negative_entropy`` minus the
    predictive entropy, ``bald``/``batchbald`` minus the mutual information (needs MC samples). MC samples
    are averaged for the first three.
    """
    if metric not in CERTAINTY_METRICS:
        raise ValueError('unknown certainty metric %r; choose from %s' % (metric, sorted(CERTAINTY_METRICS)))
    mean, samples = validate_probs(probs, require_samples=metric in _NEEDS_SAMPLES)
    return CERTAINTY_METRICS[metric](mean, samples)


def _candidates(n_items, k, labeled_mask):
    """Validate ``k`` and ``labeled_mask``; return (candidate indices, k)."""
    if labeled_mask is None:
        candidates = np.arange(n_items)
    else:
        mask = np.asarray(labeled_mask)
        if mask.shape != (n_items,) or mask.dtype != bool:
            raise ValueError('labeled_mask must be a boolean array of shape (%d,)' % n_items)
        candidates = np.flatnonzero(~mask)
    if k is None:
        k = len(candidates)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError('k must be a positive integer, got %r' % (k,))
    if k <= 0:
        raise ValueError('k must be positive, got %d' % k)
    if k > len(candidates):
        raise ValueError('k=%d exceeds the %d unlabeled candidates' % (k, len(candidates)))
    return candidates, int(k)


def _least_certain(probs, k, metric, labeled_mask):
    mean, samples = validate_probs(probs, require_samples=metric in _NEEDS_SAMPLES)
    candidates, k = _candidates(len(mean), k, labeled_mask)
    scores = CERTAINTY_METRICS[metric](mean[candidates], None if samples is None else samples[:, candidates])
    return candidates[smallest_first(scores, k)]


def smallest_first(scores, k=None):
    """Indices of the ``k`` smallest scores in ascending order, ties by index (as a stable argsort's first
    ``k``), through an argpartition when ``k`` is a small part of the scores."""
    k = len(scores) if k is None else k
    if k * 4 >= len(scores):
        return np.argsort(scores, kind='stable')[:k]
    threshold = np.partition(scores, k - 1)[k - 1]
    below = np.flatnonzero(scores < threshold)
    ties = np.flatnonzero(scores == threshold)[:k - len(below)]
    chosen = np.concatenate([below, ties])
    return chosen[np.argsort(scores[chosen], kind='stable')]


def confidence(probs, k, *, embeddings=None, labeled_mask=None, rng=None):
    """Least confident first (lowest top-class probability)."""
    return _least_certain(probs, k, 'confidence', labeled_mask)


def margin(probs, k, *, embeddings=None, labeled_mask=None, rng=None):
    """Smallest margin between the two most probable classes first."""
    return _least_certain(probs, k, 'margin', labeled_mask)


def negative_entropy(probs, k, *, embeddings=None, labeled_mask=None, rng=None):
    """Highest predictive entropy (lowest negative entropy) first."""
    return _least_certain(probs, k, 'negative_entropy', labeled_mask)


def bald(probs, k, *, embeddings=None, labeled_mask=None, rng=None):
    """Top-k BALD: highest mutual information between label and model weights first (needs MC samples)."""
    return _least_certain(probs, k, 'bald', labeled_mask)


def joint_entropy_exact(samples, batch):
    """H(y_batch) of the MC predictive joint, summing over every label combination of ``batch``."""
    n_mc = samples.shape[0]
    joint = np.ones((n_mc, 1))
    for index in batch:
        joint = (joint[:, :, None] * samples[:, index, None, :]).reshape(n_mc, -1)
    return float(_entropy(joint.mean(axis=0)))


def batchbald_score(probs, batch):
    """Joint mutual information I(y_batch; w) of a batch of items, computed exactly (small batches only)."""
    _, samples = validate_probs(probs, require_samples=True)
    batch = list(batch)
    return joint_entropy_exact(samples, batch) - float(_mean_entropy(samples[:, batch]).sum())


def _batch_joint_entropies(products, weights, samples, candidates, chunk_elements=2 ** 15):
    """Joint entropy of the current batch plus each candidate.

    ``products[m, j]`` is the probability of batch configuration ``j`` under MC sample ``m``; a configuration's
    contribution is scaled by ``weights[j]`` (1 for exact enumeration, an importance weight when sampled).
    The greedy loop runs this once per pick over every candidate: chunks of ``chunk_elements`` values stay in
    the CPU cache, ``p log p`` is taken with numpy's vectorised log (:func:`_p_log_p`), and the weighted sum over
    configurations is one matrix-vector product (a reduction over the short class axis is slow in numpy). In
    float32, like the model's probabilities: a third less time than float64, and the same picks in our tests
    (entropy differences between candidates are far above float32's ~1e-7 relative rounding).
    """
    n_mc, n_configs = products.shape
    n_classes = samples.shape[2]
    result = np.empty(len(candidates))
    step = max(1, chunk_elements // (n_configs * n_classes))
    scaled = (products.T / n_mc).astype(np.float32)
    weights = np.asarray(weights, dtype=np.float32)
    samples = samples.astype(np.float32, copy=False)
    for start in range(0, len(candidates), step):
        chunk = candidates[start:start + step]
        joint = scaled @ samples[:, chunk].reshape(n_mc, -1)  # (configurations, chunk x classes)
        result[start:start + step] = -(weights @ _p_log_p(joint)).reshape(len(chunk), n_classes).sum(axis=1)
    return result


def _draw_and_score(item_samples, members, rng):
    """Draw one label per configuration from its MC sample; return p_m(label) for every m."""
    cumulative = np.cumsum(item_samples[members], axis=1)
    labels = (rng.random(len(members))[:, None] * cumulative[:, -1:] > cumulative).sum(axis=1)
    return item_samples[:, np.minimum(labels, item_samples.shape[1] - 1)]


def batchbald(probs, k, *, embeddings=None, labeled_mask=None, rng=None, max_configurations=1024,
              num_samples=1024):
    """Greedy BatchBALD (Kirsch et al., 2019): grow a batch maximising the joint mutual information.

    The joint over the batch's labels is enumerated exactly while it has at most ``max_configurations``
    label combinations; beyond that it is estimated from ``num_samples`` configurations drawn with ``rng``
    (an MC sample, then each label from it). Cost per pick: O(n_candidates x n_mc x configurations x n_classes).
    """
    _, samples = validate_probs(probs, require_samples=True)
    n_mc, n_items, n_classes = samples.shape
    candidates, k = _candidates(n_items, k, labeled_mask)
    rng = np.random.default_rng(rng)
    conditional = _mean_entropy(samples)
    products, members = np.ones((n_mc, 1)), None
    available = np.ones(n_items, dtype=bool)
    chosen = []
    while True:
        pool = candidates[available[candidates]]
        weights = np.ones(products.shape[1]) if members is None else 1 / (products.mean(axis=0) * len(members))
        scores = _batch_joint_entropies(products, weights, samples, pool) - conditional[pool]
        best = int(pool[np.argmax(scores)])
        chosen.append(best)
        if len(chosen) == k:
            return np.asarray(chosen, dtype=np.intp)
        available[best] = False
        if members is None and products.shape[1] * n_classes > max_configurations:
            members = rng.integers(n_mc, size=num_samples)
            products = np.ones((n_mc, num_samples))
            for index in chosen:
                products *= _draw_and_score(samples[:, index], members, rng)
        elif members is None:
            products = (products[:, :, None] * samples[:, best, None, :]).reshape(n_mc, -1)
        else:
            products *= _draw_and_score(samples[:, best], members, rng)


def coreset(probs, k, *, embeddings=None, labeled_mask=None, rng=None, gram_limit=8192):
    """k-center greedy over embeddings: each pick is the candidate farthest from all labeled and picked items.

    With nothing labeled the first pick is the candidate nearest the embeddings' mean. ``probs`` may be
    None (cold start, before any model exists); if given it must describe the same items. Distances are
    float32; with at most ``gram_limit`` candidates their pairwise products are computed once (one matrix
    product), so each pick costs O(candidates) instead of a pass over every embedding.
    """
    if embeddings is None:
        raise ValueError('coreset needs embeddings of shape (n_items, n_features)')
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or len(emb) == 0 or not np.all(np.isfinite(emb)):
        raise ValueError('embeddings must be a finite array of shape (n_items, n_features)')
    if probs is not None and len(validate_probs(probs)[0]) != len(emb):
        raise ValueError('probs and embeddings describe different numbers of items')
    candidates, k = _candidates(len(emb), k, labeled_mask)
    pool = emb[candidates]
    if labeled_mask is not None and np.any(labeled_mask):
        distance, chosen = _min_sq_distance(pool, emb[np.asarray(labeled_mask)]), []
    else:
        chosen = [int(np.argmin(_min_sq_distance(pool, emb.mean(axis=0, keepdims=True))))]
        distance = _min_sq_distance(pool, pool[chosen])
    distance[chosen] = -np.inf
    norms = np.einsum('ij,ij->i', pool, pool)
    gram = pool @ pool.T if len(pool) <= gram_limit else None
    while len(chosen) < k:
        best = int(np.argmax(distance))
        chosen.append(best)
        dots = gram[best] if gram is not None else pool @ pool[best]
        distance = np.minimum(distance, np.maximum(norms - 2 * dots + norms[best], 0))
        distance[best] = -np.inf
    return candidates[np.asarray(chosen, dtype=np.intp)]


def _min_sq_distance(points, centres, chunk=1024):
    """Squared Euclidean distance from each point to its nearest centre."""
    best = np.full(len(points), np.inf, dtype=points.dtype)
    norms = np.einsum('ij,ij->i', points, points)
    for start in range(0, len(centres), chunk):
        block = centres[start:start + chunk]
        sq = norms[:, None] - 2 * points @ block.T + np.einsum('ij,ij->i', block, block)[None, :]
        best = np.minimum(best, np.maximum(sq, 0).min(axis=1))
    return best


def class_balanced(probs, k, *, embeddings=None, labeled_mask=None, rng=None, base='confidence'):
    """Interleave the picks of strategy ``base`` across predicted classes (round robin).

    The base strategy ranks ``min(candidates, k x n_classes)`` items; classes take turns in the order their
    best item appears in that ranking, each contributing its next-ranked item, until ``k`` are chosen.
    """
    if base == 'class_balanced' or base not in STRATEGIES:
        raise ValueError('unknown base strategy %r for class_balanced' % (base,))
    mean, _ = validate_probs(probs)
    candidates, k = _candidates(len(mean), k, labeled_mask)
    depth = min(len(candidates), k * mean.shape[1])
    ranked = STRATEGIES[base](probs, depth, embeddings=embeddings, labeled_mask=labeled_mask, rng=rng)
    predicted = mean[ranked].argmax(axis=1)
    queues = {}
    for item, cls in zip(ranked, predicted):
        queues.setdefault(int(cls), []).append(int(item))
    order = [queue[::-1] for queue in queues.values()]  # reversed so pop() yields best first
    chosen = []
    while len(chosen) < k:
        for queue in order:
            if queue and len(chosen) < k:
                chosen.append(queue.pop())
    return np.asarray(chosen, dtype=np.intp)


STRATEGIES = {
    'confidence': confidence,
    'margin': margin,
    'negative_entropy': negative_entropy,
    'bald': bald,
    'batchbald': batchbald,
    'coreset': coreset,
    'class_balanced': class_balanced,
}


def rank(name, probs, k, **kwargs):
    """Run the strategy registered as ``name`` in ``STRATEGIES``."""
    if name not in STRATEGIES:
        raise ValueError('unknown acquisition strategy %r; choose from %s' % (name, sorted(STRATEGIES)))
    return STRATEGIES[name](probs, k, **kwargs)
