"""Known-answer items in the guided queue (``GET next``): with the project setting ``knownAnswerShare`` s > 0,
about s of the queue's rows are superpixels a reviewer decided (an ``agree`` or ``correct`` verdict), in the same
row shape as every other row, so a labeler cannot tell them apart; :mod:`..models.guardrails` then counts the
labeler's accuracy on them.

The queue is a merge of two sequences, fixed for a (project, user) as long as labels and verdicts stay the same,
so paging is stable: the ranked queue (the user's unlabeled superpixels in ranking or routing order, without the
known-answer items) and the user's known-answer items (decided superpixels they did not label and did not decide
themselves, in an order shuffled per user). Position p of the merged queue is a known-answer slot when it is the
one slot drawn (per user, uniformly) in its block of 1/s positions, so any stretch of n rows holds n*s of them,
give or take one, at places a labeler cannot predict. When the known-answer items run out the ranked queue goes
on alone; when the ranked queue runs out the remaining known-answer items follow.

The decided superpixels come from one bounded query on the reviews (at most ``POOL_SIZE`` verdicts), reused for
``POOL_TTL`` seconds: a new verdict joins the queue within that time.
"""
import collections
import hashlib
import threading
import time

import numpy as np

from ..models.label import LabeledKeys
from ..models.prediction import unlabeled_keys
from ..models.review import Review
from ..models.slide import ProjectSlide
from ..models.superpixel_key import superpixel_keys

POOL_SIZE = 5000
POOL_TTL = 30  # seconds
_pools, _pools_lock = {}, threading.Lock()
_GOLDEN, _MIX1, _MIX2 = (np.uint64(v) for v in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))


def _hash(values, seed):
    """splitmix64 of ``values`` (uint64) xor ``seed``: well-spread 64-bit hashes, vectorised."""
    z = (np.asarray(values, dtype=np.uint64) ^ seed) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def _seeds(project, user):
    """Two 64-bit seeds of a (project, user): one orders the known-answer items, one draws the slots."""
    digest = hashlib.sha256(('%s:%s' % (project['_id'], user['_id'])).encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], 'little')), np.uint64(int.from_bytes(digest[8:16], 'little'))


Pool = collections.namedtuple('Pool', 'time keys own orders')


def decided_pool(project):
    """The decided superpixels of up to ``POOL_SIZE`` verdicts, cached ``POOL_TTL`` seconds per project and
    number of removed slides: ``keys`` (sorted, distinct), ``own`` (reviewer id string -> keys they decided),
    ``orders`` (per-user orders of ``keys``, filled as users ask)."""
    cache_key = (project['_id'], len(project.get('removedSlides') or ()))
    with _pools_lock:
        pool = _pools.get(cache_key)
    if pool is None or time.monotonic() - pool.time > POOL_TTL:
        index_of = {slide['itemId']: slide['index'] for slide in ProjectSlide().list(project)}
        own = collections.defaultdict(list)
        for verdict in Review().collection.find(
                {'projectId': project['_id'], 'categoryId': {'$ne': None}},
                {'itemId': True, 'superpixel': True, 'reviewerId': True}).limit(POOL_SIZE):
            if verdict['itemId'] in index_of:
                own[str(verdict['reviewerId'])].append(
                    int(superpixel_keys(index_of[verdict['itemId']], verdict['superpixel'])))
        own = {reviewer: np.array(keys, dtype=np.int64) for reviewer, keys in own.items()}
        keys = np.unique(np.concatenate(list(own.values()))) if own else np.zeros(0, dtype=np.int64)
        pool = Pool(time.monotonic(), keys, own, {})
        with _pools_lock:
            _pools[cache_key] = pool
    return pool


def known_items(project, user, labeled, seed):
    """The user's known-answer keys in their per-user order: decided, not labeled by them (``labeled``, an
    int64 array), not decided by them. Costs O(labels x log(pool)) once the user's order is cached."""
    pool = decided_pool(project)
    if not len(pool.keys):
        return pool.keys
    order = pool.orders.get(seed)
    if order is None:
        order = pool.orders[seed] = np.argsort(_hash(pool.keys.astype(np.uint64), seed), kind='stable')
    skip = np.concatenate([labeled, pool.own.get(str(user['_id']), labeled[:0])])
    where = np.minimum(np.searchsorted(pool.keys, skip), len(pool.keys) - 1)
    taken = np.zeros(len(pool.keys), dtype=bool)
    taken[where[pool.keys[where] == skip]] = True
    return pool.keys[order[~taken[order]]]


def known_slots(length, share, seed):
    """Which of the first ``length`` queue positions are known-answer slots: one per block of 1/``share``
    positions, drawn uniformly within the block."""
    blocks = int(np.ceil(length * share)) + 1
    uniform = (_hash(np.arange(blocks, dtype=np.uint64), seed) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    positions = np.floor((np.arange(blocks) + uniform) / share).astype(np.int64)
    slots = np.zeros(length, dtype=bool)
    slots[positions[positions < length]] = True
    return slots


def mixed_keys(project, user, limit, offset, share, keys=None):
    """Keys of rows ``offset`` to ``offset + limit`` of ``user``'s guided queue with known-answer items mixed in
    at ``share`` (``keys``: the ranking as routing gives it, None for the ranking itself)."""
    end = offset + limit
    labeled = np.array(LabeledKeys().keys(project, user), dtype=np.int64)
    order_seed, slot_seed = _seeds(project, user)
    known = known_items(project, user, labeled, order_seed)
    slots = known_slots(end, share, slot_seed)
    rank = np.cumsum(slots) - 1
    slots &= rank < len(known)
    ranked = unlabeled_keys(project, user, end - int(np.count_nonzero(slots)), keys, labeled, exclude=known)
    if ranked is None:
        return np.zeros(0, dtype=np.int64)
    merged = np.zeros(end, dtype=np.int64)
    merged[slots] = known[rank[slots]]
    free = np.flatnonzero(~slots)
    merged[free[:len(ranked)]] = ranked
    if len(ranked) < len(free):  # the ranked queue ends here: the remaining known-answer items follow
        cut = free[len(ranked)]
        merged = np.concatenate([merged[:cut], known[np.count_nonzero(slots[:cut]):]])
    return merged[offset:end]
