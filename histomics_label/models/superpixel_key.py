"""The one packing of a (slide index, superpixel) pair into an int64 key: ``slide_index << 32 | superpixel``.

Labeled-superpixel sets and the acquisition ranking store these keys, so the queue compares whole projects with
one ``numpy.isin``."""
import numpy as np

KEY_SHIFT = 32
SUPERPIXEL_MASK = (1 << KEY_SHIFT) - 1


def superpixel_keys(slide_indices, superpixels):
    """Pack (slide index, superpixel) pairs (scalars or arrays) into int64 keys."""
    return (np.asarray(slide_indices, dtype=np.int64) << np.int64(KEY_SHIFT)) | np.asarray(superpixels,
                                                                                             dtype=np.int64)


def split_key(key):
    """(slide index, superpixel) of one key."""
    key = int(key)
    return key >> KEY_SHIFT, key & SUPERPIXEL_MASK
