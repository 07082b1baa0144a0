"""Features kept in memory between training epochs: an LRU cache of feature blocks within a byte budget.

Entries are keyed by what identifies a features file for good (the server's file id: a recomputed file is a
new file), loaded once by a caller-supplied function and stored as float16, bfloat16 or float32 (``dtype``;
``auto``: bfloat16 where this CPU multiplies it fast, see :mod:`.bfloat16`, else float16) read-only
:class:`.feature_blocks.FeatureBlock` s. Inserting beyond the budget evicts the least recently used entries,
except those ``pinned`` by the caller (the blocks an epoch in progress uses); if the pinned entries alone
exceed the budget the cache holds them anyway and says so in :attr:`FeatureCache.over_budget`.
"""
import collections
import threading

import numpy as np

from . import bfloat16
from .feature_blocks import FeatureBlock

#: numpy dtype of each storage dtype name
_NUMPY_DTYPES = {'float16': np.dtype(np.float16), 'bfloat16': bfloat16.DTYPE, 'float32': np.dtype(np.float32)}
DTYPES = tuple(_NUMPY_DTYPES)


def resolve_dtype(dtype):
    """The storage dtype ``dtype`` names: ``auto`` is bfloat16 where it multiplies fast, else float16.
    ValueError for other names, or bfloat16 without ml_dtypes."""
    if dtype == 'auto':
        return 'bfloat16' if bfloat16.fast_on_this_cpu() else 'float16'
    if dtype not in DTYPES:
        raise ValueError('dtype must be auto or one of %s, got %r' % (', '.join(DTYPES), dtype))
    if _NUMPY_DTYPES[dtype] is None:
        raise ValueError('bfloat16 features need the ml_dtypes package')
    return dtype


class FeatureCache:
    """``get(key, load, pinned)`` -> FeatureBlock; ``load()`` returns ``(ids, values)``."""

    def __init__(self, budget_bytes, dtype='auto'):
        self._entries = collections.OrderedDict()  # key -> FeatureBlock, least recently used first
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = 0
        self.configure(budget_bytes, dtype)

    def configure(self, budget_bytes, dtype):
        """Change the budget (evicting down to it) or the dtype (dropping every entry)."""
        dtype = resolve_dtype(dtype)
        if not isinstance(budget_bytes, (int, np.integer)) or isinstance(budget_bytes, bool) or budget_bytes < 0:
            raise ValueError('budget_bytes must be a non-negative integer')
        with self._lock:
            if getattr(self, 'dtype', dtype) != dtype:
                self._entries.clear()
            self.budget, self.dtype = int(budget_bytes), dtype
            self._evict(set())

    @property
    def nbytes(self):
        return sum(block.nbytes for block in self._entries.values())

    @property
    def over_budget(self):
        return self.nbytes > self.budget

    def keys(self):
        """Cached keys, least recently used first."""
        return list(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()

    def get(self, key, load, pinned=()):
        """The block of ``key``, loaded with ``load()`` on a miss; entries in ``pinned`` are never evicted
        to make room (pass the keys the current epoch needs)."""
        with self._lock:
            if key in self._entries:
                self.hits += 1
                self._entries.move_to_end(key)
                return self._entries[key]
        ids, values = load()
        block = self._block(ids, values)
        with self._lock:
            self.misses += 1
            self._entries[key] = block
            self._evict(set(pinned) | {key})
        return block

    def _block(self, ids, values):
        """A read-only block of ``values`` in the cache's dtype; 16-bit rows are stored minus their mean
        (centred values keep more digits, and centred rows multiply without a float32 copy)."""
        values = np.asarray(values)
        if not np.issubdtype(values.dtype, np.floating):
            raise ValueError('only embedding vectors are cached, not %s rows' % values.dtype)
        offset = values.mean(axis=0, dtype=np.float64).astype(np.float32) if self.dtype != 'float32' else None
        with np.errstate(over='ignore', invalid='ignore'):  # beyond float16's range: inf, refused below
            converted = (values if offset is None else values - offset).astype(_NUMPY_DTYPES[self.dtype])
        if not np.all(np.isfinite(converted)):
            raise ValueError('features have NaN or infinite values (or values beyond %s range)' % self.dtype)
        block = FeatureBlock(np.array(ids, dtype=np.int64), converted, offset)
        for array in (block.ids, block.values, block.order) + (() if offset is None else (block.offset,)):
            array.flags.writeable = False
        return block

    def _evict(self, keep):
        """Drop least recently used entries not in ``keep`` until within budget (lock held)."""
        total = self.nbytes
        for key in list(self._entries):
            if total <= self.budget:
                break
            if key not in keep:
                total -= self._entries.pop(key).nbytes
                self.evictions += 1
