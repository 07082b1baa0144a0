"""bfloat16 feature rows: stored as numpy arrays of ml_dtypes' ``bfloat16``, multiplied by torch.

bfloat16 keeps 8 significant bits (float16 keeps 11) in the same two bytes, and on CPUs with AMX tiles
(Intel Xeon 4th generation and later) torch multiplies it about seven times faster than float16, which it
multiplies no faster than float32 there (docs/benchmarks.md, "Retraining"). The feature cache's ``auto``
dtype is bfloat16 where that holds, float16 elsewhere.
"""
import numpy as np

try:
    import ml_dtypes
except ImportError:  # optional: without it the cache stores float16 or float32
    ml_dtypes = None

#: numpy's bfloat16 dtype (None without ml_dtypes)
DTYPE = np.dtype(ml_dtypes.bfloat16) if ml_dtypes is not None else None


def is_bfloat16(array):
    return DTYPE is not None and array.dtype == DTYPE


def is_sixteen_bit(array):
    """float16 or bfloat16: rows the feature cache stores and the models multiply as they are."""
    return array.dtype == np.float16 or is_bfloat16(array)


def fast_on_this_cpu():
    """True when torch multiplies bfloat16 on AMX tiles here (and ml_dtypes can hold the rows)."""
    if DTYPE is None:
        return False
    try:
        import torch
    except ImportError:
        return False
    amx = getattr(torch.cpu, '_is_amx_tile_supported', None)
    return bool(amx and amx())


def as_torch(rows):
    """A torch bfloat16 view of a bfloat16 numpy array (no copy when it is contiguous)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(rows).view(np.int16)).view(torch.bfloat16)
