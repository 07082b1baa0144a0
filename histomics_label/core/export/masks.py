"""Category masks: a tiled, pyramidal, single-channel TIFF per slide at a chosen resolution.

Pixel values are category codes (0 = no effective label). Each mask pixel takes the label-image pixel under
its centre (nearest neighbour, so codes never blend), and reduced levels are every-other-pixel subsamples, so
every level holds exact codes. Level 0 is filled block by block into a memory-mapped scratch file and the
TIFF is written tile by tile with tifffile, so memory stays bounded by a block whatever the slide size.
"""
import math
import os

import numpy as np

TILE = 256
#: label-image pixels read at a time
MAX_BLOCK_PIXELS = 2048 * 2048


def mask_size(base_size, pixel_size):
    """``(width, height)`` of a mask whose pixels span ``pixel_size`` base pixels."""
    return tuple(max(1, int(math.ceil(side / pixel_size))) for side in base_size)


def mask_dtype(codes):
    """The smallest unsigned type holding codes ``0..codes``."""
    return np.uint8 if codes <= 255 else np.uint16


def _sample_positions(start, stop, pixel_size, scale, limit):
    """Label-image coordinates under the centres of mask pixels ``start..stop-1``."""
    return np.minimum(((np.arange(start, stop) + 0.5) * (pixel_size / scale)).astype(np.int64), limit - 1)


def fill_mask(level0, read_labels, codes, label_size, scale, pixel_size, progress=None):
    """Fill ``level0`` (a ``(height, width)`` array, e.g. a memmap) with ``codes[label]`` sampled at each mask
    pixel's centre; ``codes`` has one entry per superpixel (``-1`` labels, outside any superpixel, get 0).

    :param read_labels: ``read_labels(x0, y0, x1, y1)`` -> superpixel ids of that label-image region.
    :param label_size: ``(width, height)`` of the label image; ``scale``: base pixels per label pixel;
        ``pixel_size``: base pixels per mask pixel.
    :param progress: called with the number of mask rows done after each band of rows.
    """
    lookup = np.append(np.asarray(codes), 0).astype(level0.dtype)  # index -1 -> the appended 0
    height, width = level0.shape
    ratio = pixel_size / scale  # label pixels per mask pixel
    side = max(TILE, min(4 * TILE, int(math.sqrt(MAX_BLOCK_PIXELS) / max(ratio, 1e-9)) // TILE * TILE))
    for top in range(0, height, side):
        rows = _sample_positions(top, min(height, top + side), pixel_size, scale, label_size[1])
        for left in range(0, width, side):
            cols = _sample_positions(left, min(width, left + side), pixel_size, scale, label_size[0])
            labels = read_labels(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
            level0[top:top + len(rows), left:left + len(cols)] = lookup[
                labels[np.ix_(rows - rows[0], cols - cols[0])]]
        if progress is not None:
            progress(len(rows))


def _tiles(array):
    height, width = array.shape
    for y in range(0, height, TILE):
        for x in range(0, width, TILE):
            tile = array[y:y + TILE, x:x + TILE]
            if tile.shape != (TILE, TILE):
                tile = np.pad(tile, ((0, TILE - tile.shape[0]), (0, TILE - tile.shape[1])))
            yield np.ascontiguousarray(tile)


def write_mask_tiff(path, level0, description=None, mm_per_pixel=None, scratch=None):
    """Write ``level0`` and its halvings (down to one tile) as a tiled, deflate-compressed BigTIFF.

    ``scratch``: a directory for the reduced levels' memory-mapped arrays (default: beside ``path``)."""
    import tifffile

    scratch = scratch or os.path.dirname(os.path.abspath(path))
    levels, made = [level0], []
    try:
        while max(levels[-1].shape) > TILE:
            previous = levels[-1]
            name = os.path.join(scratch, '%s.level%d' % (os.path.basename(path), len(levels)))
            made.append(name)
            level = np.lib.format.open_memmap(name, mode='w+', dtype=previous.dtype,
                                              shape=((previous.shape[0] + 1) // 2, (previous.shape[1] + 1) // 2))
            for y in range(0, level.shape[0], 4 * TILE):
                level[y:y + 4 * TILE] = previous[2 * y:2 * (y + 4 * TILE):2, ::2]
            levels.append(level)
        with tifffile.TiffWriter(path, bigtiff=True) as tif:
            for index, level in enumerate(levels):
                resolution = None
                if mm_per_pixel:
                    per_cm = 10.0 / (mm_per_pixel * 2 ** index)
                    resolution = (per_cm, per_cm)
                tif.write(_tiles(level), shape=level.shape, dtype=level.dtype, tile=(TILE, TILE),
                          photometric='minisblack', compression='zlib', subfiletype=1 if index else 0,
                          description=description if index == 0 else None, metadata=None,
                          resolution=resolution, resolutionunit='CENTIMETER' if resolution else None)
    finally:
        del levels[1:]
        for name in made:
            os.remove(name)
