"""Superpixel geometry measured on a pixelmap label image, read block by block.

:func:`label_image_geometry` makes two streamed passes over a label image (see :mod:`.label_image` for the
pixelmap convention), so memory is bounded by one block plus a few numbers per superpixel:

1. pixel counts, coordinate sums and extents per superpixel (boundary pixels ``2i + 1`` belong to
   superpixel ``i``), through :class:`~.superpixel_set.LabelSink`;
2. for each superpixel, its pixel whose centre is nearest its mean position.

The stored *centroid* is the centre of that pixel: the pixel containing the mean position when it belongs
to the superpixel, otherwise (a non-convex superpixel whose mean lies in another one) the superpixel's pixel
nearest the mean. So every centroid lies inside its own superpixel, at most half a label pixel from the mean
for convex ones, and patches centred on it show the superpixel. Everything is returned in base-slide pixels.
"""
import math

import numba
import numpy as np

from .label_image import BACKGROUND, rgb_to_value
from .superpixel_set import LabelSink

BLOCK = 1024


class LabelImageMismatch(ValueError):
    """The label image does not hold exactly the superpixels ``0..count-1`` it is said to hold."""


def _open(source):
    if hasattr(source, 'tileIterator'):
        return source
    import large_image

    return large_image.open(str(source))


def _blocks(source, boundaries, count, block):
    """Yield ``(x0, y0, labels)``: superpixel indices (int32, ``-1`` = background) of each block."""
    import large_image

    for tile in source.tileIterator(format=large_image.constants.TILE_FORMAT_NUMPY,
                                    tile_size=dict(width=block, height=block)):
        rgb = tile['tile']
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] < 3:
            raise LabelImageMismatch('the label image is not an 8-bit RGB pixelmap (%s, %r)' % (
                rgb.dtype, rgb.shape[2:]))
        value = rgb_to_value(rgb)
        labels = np.where(value == BACKGROUND, -1, value // 2 if boundaries else value)
        top = int(labels.max(initial=-1))
        if top >= count:
            raise LabelImageMismatch(
                'the label image holds superpixel %d (pixel value %d) but only %d superpixels are expected' % (
                    top, int(value[labels == top].flat[0]), count))
        yield int(tile['x']), int(tile['y']), labels.astype(np.int32)


@numba.njit(cache=True)
def _nearest_pixels(labels, x0, y0, mean_x, mean_y, best_d, best_x, best_y):
    """Keep, per superpixel, its pixel whose centre is nearest ``(mean_x, mean_y)`` (label-pixel units).

    The pixel containing the mean wins outright (distance ``-1``), so ties on pixel edges cannot move it;
    other ties go to the first pixel in row-major order, so the result does not depend on the blocks.
    """
    h, w = labels.shape
    for y in range(h):
        for x in range(w):
            k = labels[y, x]
            if k < 0:
                continue
            gx, gy = x0 + x, y0 + y
            if gx == math.floor(mean_x[k]) and gy == math.floor(mean_y[k]):
                d = -1.0
            else:
                d = (gx + 0.5 - mean_x[k]) ** 2 + (gy + 0.5 - mean_y[k]) ** 2
            if d < best_d[k] or (d == best_d[k] and (gy < best_y[k] or (gy == best_y[k] and gx < best_x[k]))):
                best_d[k] = d
                best_x[k] = gx
                best_y[k] = gy


def label_image_geometry(source, count, scale=1.0, boundaries=True, base_size=None, block=BLOCK):
    """Centroids, boxes and areas of superpixels ``0..count-1`` of a pixelmap label image.

    :param source: path of the label image, or an opened large_image tile source.
    :param count: number of superpixels the image must hold (e.g. the length of a pixelmap's ``values``).
    :param scale: base-slide pixels per label-image pixel.
    :param boundaries: pixel values are ``2i`` / ``2i + 1`` (True) or ``i`` (False).
    :param base_size: ``(width, height)`` of the base slide, to clip boxes (default: the label image scaled).
    :param block: side of the blocks read at a time, in label-image pixels.
    :returns: a :class:`~.superpixel_set.SuperpixelSet` (no label path); ``info['moved']`` lists the
        superpixels whose mean position lies outside them (their centroid is their nearest pixel).
    :raises LabelImageMismatch: a pixel holds an index ``>= count``, or some superpixel has no pixel.
    """
    count = int(count)
    if count < 1:
        raise LabelImageMismatch('a label image needs at least one superpixel, got count %d' % count)
    if not scale or scale <= 0:
        raise ValueError('scale must be positive, got %r' % (scale,))
    source = _open(source)
    meta = source.getMetadata()
    width, height = int(meta['sizeX']), int(meta['sizeY'])
    base_size = base_size or (int(round(width * scale)), int(round(height * scale)))
    sink = LabelSink(count, width, height, scale, base_size)
    for x0, y0, labels in _blocks(source, boundaries, count, block):
        sink.add(x0, y0, labels, None)
    missing = np.flatnonzero(sink.counts == 0)
    if len(missing):
        raise LabelImageMismatch('the label image has no pixels for %d of %d superpixels (e.g. %s)' % (
            len(missing), count, ', '.join(str(i) for i in missing[:5])))
    result = sink.finish(info={'method': 'label image'})
    mean_x = sink.sum_x / sink.counts + 0.5
    mean_y = sink.sum_y / sink.counts + 0.5
    best_d = np.full(count, np.inf)
    best_x = np.zeros(count, dtype=np.int64)
    best_y = np.zeros(count, dtype=np.int64)
    for x0, y0, labels in _blocks(source, boundaries, count, block):
        _nearest_pixels(labels, x0, y0, mean_x, mean_y, best_d, best_x, best_y)
    result.centroids = np.stack([(best_x + 0.5) * scale, (best_y + 0.5) * scale], axis=1)
    result.info['moved'] = np.flatnonzero(best_d >= 0)
    return result
