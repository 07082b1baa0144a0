"""``normalise(X) @ weight + bias`` on raw feature rows, without a normalised (or float32) copy of ``X``.

The first linear map of every embedding model (the MLP's hidden layer; the head itself for the linear and
logistic kinds) runs through here, block by block:

- float32 rows: centred block by block, the scale folded into the weights (``(X - mean) @ (weight / std)``):
  one subtraction and one BLAS product per block (centring first keeps the digits of features far from zero);
- float16 rows (the resident trainer keeps embeddings as float16 to halve its memory): centred and scaled in
  float16 and multiplied by float16 weights with torch (oneDNN accumulates in float32), so a million 1280-d
  rows never become 5 GB of float32. The error is of the order of float16 rounding (~1e-3 relative), the
  precision the rows were stored with; a block that overflows float16 is recomputed in float32.
"""
import warnings

import numpy as np

BLOCK_ROWS = 16384


def _torch():
    try:
        import torch
    except ImportError:  # the logistic kind works without torch: float16 rows are then converted per block
        return None
    return torch


def normalised_affine(X, mean, std, weight, bias):
    """``((X - mean) / std) @ weight + bias`` as float32 ``(n, columns)``; ``X`` is float16 or float32."""
    weight = np.asarray(weight, dtype=np.float32)
    bias = np.asarray(bias, dtype=np.float32)
    scale = (1 / np.asarray(std, dtype=np.float32)).astype(np.float32)
    mean = np.asarray(mean, dtype=np.float32)
    out = np.empty((len(X), weight.shape[1]), dtype=np.float32)
    scaled = weight * scale[:, None]
    torch = _torch() if X.dtype == np.float16 else None
    half = _half_weights(torch, mean, scale, weight, bias) if torch is not None else None
    for start in range(0, len(X), BLOCK_ROWS):
        block, target = X[start:start + BLOCK_ROWS], out[start:start + BLOCK_ROWS]
        if half is not None and _half_block(torch, block, half, target):
            target += half['bias']
        else:
            np.matmul(np.subtract(block, mean, dtype=np.float32), scaled, out=target)
            target += bias
    return out


def _half_weights(torch, mean, scale, weight, bias):
    """float16 centre, scale and weights, with the float16 rounding of centre and scale compensated in
    float32: ``(X - m16) * s16 @ (weight * scale / s16) + bias - ((mean - m16) * scale) @ weight``. None
    when the weights do not fit float16."""
    m16 = mean.astype(np.float16)
    s16 = np.clip(scale, 2 ** -14, 1024).astype(np.float16)  # keep scaled rows in range; weights absorb the rest
    compensated = weight * (scale / s16.astype(np.float32))[:, None]
    if not np.all(np.isfinite(compensated.astype(np.float16))):
        return None
    return {'mean': torch.from_numpy(m16), 'scale': torch.from_numpy(s16),
            'weight': torch.from_numpy(compensated.astype(np.float16)),
            'bias': bias - ((mean - m16.astype(np.float32)) * scale) @ weight}


def _half_block(torch, block, half, target):
    """Write ``(block - m16) * s16 @ w16`` into ``target``; False (nothing usable written) on overflow."""
    with warnings.catch_warnings():  # cached rows are read-only; torch only reads them here
        warnings.filterwarnings('ignore', message='The given NumPy array is not writable')
        x = torch.from_numpy(np.ascontiguousarray(block))
    product = ((x - half['mean']) * half['scale']) @ half['weight']
    target[...] = product.float().numpy()
    return bool(np.all(np.isfinite(target)))
