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


def decided_pool(project):
    """(superpixel keys, reviewer id strings) of up to ``POOL_SIZE`` verdicts that decided a superpixel (one
    entry per verdict), cached ``POOL_TTL`` seconds per project and number of removed slides."""
    cache_key = (project['_id'], len(project.get('removedSlides') or ()))
    with _pools_lock:
        cached = _pools.get(cache_key)
    if cached is None or time.monotonic() - cached[0] > POOL_TTL:
        index_of = {slide['itemId']: slide['index'] for slide in ProjectSlide().list(project)}
        verdicts = [r for r in Review().collection.find(
            {'projectId': project['_id'], 'categoryId': {'$ne': None}},
            {'itemId': True, 'superpixel': True, 'reviewerId': True}).limit(POOL_SIZE) if r['itemId'] in index_of]
        keys = superpixel_keys([index_of[r['itemId']] for r in verdicts], [r['superpixel'] for r in verdicts])
        cached = (time.monotonic(), np.atleast_1d(keys), np.array([str(r['reviewerId']) for r in verdicts]))
        with _pools_lock:
            _pools[cache_key] = cached
    return cached[1], cached[2]


def known_items(project, user, labeled, seed):
    """The user's known-answer keys in their per-user order: decided, not labeled by them (``labeled``), not
    decided by them."""
    keys, reviewers = decided_pool(project)
    own = keys[reviewers == str(user['_id'])]
    keys = np.unique(keys)
    keys = keys[~np.isin(keys, np.concatenate([np.asarray(labeled, dtype=np.int64), own]))]
    return keys[np.argsort(_hash(keys.astype(np.uint64), seed), kind='stable')]


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
    labeled = LabeledKeys().keys(project, user)
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
