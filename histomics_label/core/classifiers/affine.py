"""``normalise(X) @ weight + bias`` on raw feature rows, without a normalised copy of ``X``.

The first linear map of every embedding model (the MLP's hidden layer; the head itself for the linear and
logistic kinds) runs through here, ``BLOCK_ROWS`` rows at a time: each block is centred while it is converted
to float32 (one pass; float16 rows, as the resident trainer caches them, become float32 only a block at a
time) and multiplied by the weights with the scale folded in. Centring before the product keeps the digits of
features that sit far from zero.
"""
import numpy as np

BLOCK_ROWS = 16384


def normalised_affine(X, mean, std, weight, bias):
    """``((X - mean) / std) @ weight + bias`` as float32 ``(n, columns)``; ``X`` is float16 or float32."""
    mean = np.asarray(mean, dtype=np.float32)
    scaled = np.asarray(weight, dtype=np.float32) / np.asarray(std, dtype=np.float32)[:, None]
    bias = np.asarray(bias, dtype=np.float32)
    out = np.empty((len(X), scaled.shape[1]), dtype=np.float32)
    for start in range(0, len(X), BLOCK_ROWS):
        target = out[start:start + BLOCK_ROWS]
        np.matmul(np.subtract(X[start:start + BLOCK_ROWS], mean, dtype=np.float32), scaled, out=target)
        target += bias
    return out
