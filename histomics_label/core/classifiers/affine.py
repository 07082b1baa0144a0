"""``normalise(X) @ weight + bias`` on raw feature rows, without a normalised copy of ``X``.

The first linear map of every embedding model (the MLP's hidden layer; the head itself for the linear and
logistic kinds) runs through here, ``BLOCK_ROWS`` rows at a time:

- float32 rows (or rows far from the model's mean): centred while converted to float32, one block at a
  time, and multiplied by the weights with the scale folded in. Centring before the product keeps the digits
  of features that sit far from zero;
- 16-bit rows near the model's mean (the feature cache stores float16 or bfloat16 rows minus their mean, see
  :mod:`..feature_cache`): multiplied as they are by weights of their own dtype (torch; float32
  accumulation), the mean folded into the bias: no float32 copy of the rows at all. The result carries the
  rounding of the dtype the rows were stored in (~1e-3 relative for float16, ~4e-3 for bfloat16); a float16
  block that overflows is redone in float32.
"""
import contextlib
import warnings

import numpy as np

from .. import bfloat16

BLOCK_ROWS = 16384
#: float16 rows are multiplied as they are when the model's mean is within this many standard deviations
#: of the rows' own origin (else the folded mean would cost float16 digits)
CENTRED = 4.0


def normalised_affine(X, mean, std, weight, bias, offset=None):
    """``((X + offset - mean) / std) @ weight + bias`` as float32 ``(n, columns)``; ``X`` is float16,
    bfloat16 or float32, ``offset`` (None: 0) the origin its rows are stored relative to. ValueError if ``X``
    has NaN or infinite values (checked on the product, which they never leave finite: cheaper than on ``X``)."""
    mean = np.asarray(mean, dtype=np.float32) - (0 if offset is None else offset)
    std = np.asarray(std, dtype=np.float32)
    scaled = np.asarray(weight, dtype=np.float32) / std[:, None]
    bias = np.asarray(bias, dtype=np.float32)
    out = np.empty((len(X), scaled.shape[1]), dtype=np.float32)
    half = _half_weights(scaled, mean, std, X.dtype) if bfloat16.is_sixteen_bit(X) else None
    folded = None if half is None else bias - mean @ scaled
    for start in range(0, len(X), BLOCK_ROWS):
        block, target = X[start:start + BLOCK_ROWS], out[start:start + BLOCK_ROWS]
        if half is not None and _half_product(half, block, target):
            target += folded
            continue
        np.matmul(np.subtract(block, mean, dtype=np.float32), scaled, out=target)
        if not np.all(np.isfinite(target)):
            raise ValueError('input contains NaN or infinite values (rows %d-%d)' % (
                start, start + len(block) - 1))
        target += bias
    return out


def _torch():
    try:
        import torch
    except ImportError:  # the logistic kind works without torch: 16-bit rows are then converted per block
        return None
    return torch


def _half_weights(scaled, mean, std, dtype):
    """Torch weights of the rows' 16-bit ``dtype`` for rows near ``mean``, or None (rows far from it,
    weights beyond float16, or no torch)."""
    torch = _torch()
    if torch is None or np.max(np.abs(mean) / std, initial=0) > CENTRED:
        return None
    if dtype != np.float16:
        return torch.from_numpy(scaled).to(torch.bfloat16)
    with np.errstate(over='ignore'):
        weights = scaled.astype(np.float16)
    return torch.from_numpy(weights) if np.all(np.isfinite(weights)) else None


def _half_product(weights, block, target):
    """``block @ weights`` into ``target``; False (use float32) if it overflowed float16."""
    torch = _torch()
    with warnings.catch_warnings():  # cached rows are read-only; torch only reads them here
        warnings.filterwarnings('ignore', message='The given NumPy array is not writable')
        rows = bfloat16.as_torch(block) if bfloat16.is_bfloat16(block) else torch.from_numpy(
            np.ascontiguousarray(block))
    target[...] = (rows @ weights).float().numpy()
    return bool(np.all(np.isfinite(target)))


@contextlib.contextmanager
def single_threaded_torch():
    """torch on one intra-op thread meanwhile (when blocks are predicted by several threads at once)."""
    torch = _torch()
    if torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
