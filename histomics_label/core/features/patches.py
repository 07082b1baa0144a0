"""Square image patches centred on superpixel centroids, optionally masked to their superpixel.

Geometry: patches are cut in pixels of the reader's magnification (a :class:`~..slide_reader.SlideReader`).
A centroid ``(x, y)`` in base-slide pixels falls in output pixel ``(floor(x / scale), floor(y / scale))``;
the patch spans ``patch_size`` pixels starting ``patch_size // 2`` before that pixel. Pixels past the slide
edge, and with masking the pixels of other superpixels, take the ``fill`` colour.

Labels follow the pixelmap convention of :mod:`..label_image`: superpixel ``i`` is ``2i`` inside and ``2i + 1``
on its boundary, both kept by the mask. They can be a label TIFF path, an array (encoded integers or RGB
pixelmap) of any size covering the slide (scaled nearest-neighbour to the patch grid), or a callable
``labels(x0, y0, x1, y1)`` returning the region's labels in the patch grid.

Centroids are grouped by ``block`` x ``block`` cells of the output grid and each group is read as one region,
so a dense set of superpixels reads the slide about once; groups are read by a thread pool ahead of use.
"""
import concurrent.futures
import os

import numpy as np

from ..label_image import BACKGROUND, rgb_to_value


def patch_origins(centroids, scale, patch_size):
    """Top-left output pixel ``(x, y)`` of each patch for base-slide ``centroids`` ``(n, 2)``."""
    centroids = np.asarray(centroids, dtype=np.float64)
    if centroids.ndim != 2 or centroids.shape[1] != 2:
        raise ValueError('centroids must be an (n, 2) array of x, y, got shape %r' % (centroids.shape,))
    return np.floor(centroids / scale).astype(np.int64) - int(patch_size) // 2


def _as_values(labels):
    labels = np.asarray(labels)
    return rgb_to_value(labels) if labels.ndim == 3 else labels.astype(np.int64)


class LabelSource:
    """Pixelmap values (``2i``/``2i + 1``; ``BACKGROUND`` outside) for regions of the patch grid."""

    def __init__(self, labels, width, height):
        self._source = self._array = self._callable = None
        if callable(labels):
            self._callable = labels
            label_w, label_h = width, height
        elif isinstance(labels, (str, bytes, os.PathLike)):
            import large_image

            self._source = large_image.open(os.fspath(labels))
            meta = self._source.getMetadata()
            label_w, label_h = meta['sizeX'], meta['sizeY']
        else:
            self._array = np.asarray(labels)
            if self._array.ndim not in (2, 3):
                raise ValueError('a label array must be (h, w) values or (h, w, 3) RGB, got shape %r'
                                 % (self._array.shape,))
            label_h, label_w = self._array.shape[:2]
        self.width, self.height = width, height
        self._ratio = (label_w / width, label_h / height)
        self._label_size = (label_w, label_h)

    def _read_native(self, x0, y0, x1, y1):
        if self._callable is not None:
            return _as_values(self._callable(x0, y0, x1, y1))
        if self._array is not None:
            return _as_values(self._array[y0:y1, x0:x1])
        import large_image

        rgb, _ = self._source.getRegion(region=dict(left=x0, top=y0, right=x1, bottom=y1),
                                        format=large_image.constants.TILE_FORMAT_NUMPY)
        return rgb_to_value(rgb)

    def read(self, x0, y0, x1, y1):
        """Values for output pixels ``[x0, x1) x [y0, y1)`` (may extend past the image: ``BACKGROUND``)."""
        out = np.full((y1 - y0, x1 - x0), BACKGROUND, dtype=np.int64)
        cx0, cy0 = max(0, x0), max(0, y0)
        cx1, cy1 = min(self.width, x1), min(self.height, y1)
        if cx1 <= cx0 or cy1 <= cy0:
            return out
        if self._ratio == (1.0, 1.0):
            values = self._read_native(cx0, cy0, cx1, cy1)
        else:  # nearest label pixel to each output pixel centre
            lx = np.minimum(((np.arange(cx0, cx1) + 0.5) * self._ratio[0]).astype(np.int64),
                            self._label_size[0] - 1)
            ly = np.minimum(((np.arange(cy0, cy1) + 0.5) * self._ratio[1]).astype(np.int64),
                            self._label_size[1] - 1)
            block = self._read_native(lx[0], ly[0], lx[-1] + 1, ly[-1] + 1)
            values = block[np.ix_(ly - ly[0], lx - lx[0])]
        out[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = values[:cy1 - cy0, :cx1 - cx0]
        return out


def read_region(reader, x0, y0, x1, y1, fill=(255, 255, 255)):
    """RGB uint8 of output pixels ``[x0, x1) x [y0, y1)``; the part past the slide edge is ``fill``."""
    out = np.empty((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    out[:] = fill
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(reader.width, x1), min(reader.height, y1)
    if cx1 > cx0 and cy1 > cy0:
        out[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = reader.read(cx0, cy0, cx1, cy1)
    return out


def _read_group(reader, origins, patch_size, ids, labels, fill):
    """Patches ``(n, patch_size, patch_size, 3)`` for origins read as one region."""
    x0, y0 = origins.min(axis=0)
    x1, y1 = origins.max(axis=0) + patch_size
    region = read_region(reader, x0, y0, x1, y1, fill)
    values = labels.read(x0, y0, x1, y1) if labels is not None else None
    patches = np.empty((len(origins), patch_size, patch_size, 3), dtype=np.uint8)
    for row, (px, py) in enumerate(origins - (x0, y0)):
        patches[row] = region[py:py + patch_size, px:px + patch_size]
        if values is not None:
            patches[row][values[py:py + patch_size, px:px + patch_size] // 2 != ids[row]] = fill
    return patches


def group_rows(origins, block):
    """Row indices grouped by the ``block`` x ``block`` cell of their origin, cells in raster order."""
    cells = np.floor_divide(origins, block)
    order = np.lexsort((cells[:, 0], cells[:, 1]))
    breaks = np.flatnonzero(np.any(np.diff(cells[order], axis=0) != 0, axis=1)) + 1
    return np.split(order, breaks)


def iter_patches(reader, centroids, patch_size, ids=None, labels=None, fill=(255, 255, 255), block=1024,
                 threads=2):
    """Yield ``(rows, patches)``: row indices into ``centroids`` and their uint8 patches.

    :param reader: a :class:`~..slide_reader.SlideReader` at the patch magnification.
    :param centroids: ``(n, 2)`` x, y in base-slide pixels.
    :param ids: superpixel id of each centroid (default ``0..n-1``); used for masking only.
    :param labels: optional label image (path, array or callable, see the module doc) to mask patches.
    :param fill: colour (int or RGB) of masked and out-of-slide pixels.
    :param threads: reader threads; groups are read up to ``2 * threads`` ahead of the consumer.
    """
    patch_size = int(patch_size)
    if patch_size < 1:
        raise ValueError('patch_size must be a positive number of pixels, got %r' % (patch_size,))
    origins = patch_origins(centroids, reader.scale, patch_size)
    ids = np.arange(len(origins)) if ids is None else np.asarray(ids, dtype=np.int64)
    if ids.shape != (len(origins),):
        raise ValueError('%d ids for %d centroids' % (ids.size, len(origins)))
    if labels is not None and not isinstance(labels, LabelSource):
        labels = LabelSource(labels, reader.width, reader.height)
    fill = np.broadcast_to(np.asarray(fill, dtype=np.uint8), (3,))
    groups = group_rows(origins, block) if len(origins) else []

    def load(rows):
        return rows, _read_group(reader, origins[rows], patch_size, ids[rows], labels, fill)

    with concurrent.futures.ThreadPoolExecutor(max(1, int(threads))) as pool:
        pending = [pool.submit(load, rows) for rows in groups[:2 * max(1, int(threads))]]
        for following in groups[len(pending):]:
            yield pending.pop(0).result()
            pending.append(pool.submit(load, following))
        for future in pending:
            yield future.result()
