"""The result of a segmentation: per-superpixel geometry in base-slide pixels, and the label image.

:class:`LabelSink` is shared by every producer (tiled SLIC, bring-your-own label images and polygons): it
takes final label blocks in label-image pixels, encodes and writes them to the pixelmap TIFF, and accumulates
areas, centroids and bounding boxes.
"""
import json
from dataclasses import dataclass, field

import numpy as np

from . import _slic_kernels as kernels
from .label_image import MAX_SUPERPIXELS, LabelTiffWriter, boundary_mask, encode_labels


@dataclass
class SuperpixelSet:
    """Superpixels ``0..count-1``.

    ``centroids`` are ``(count, 2)`` ``(x, y)``, ``bboxes`` ``(count, 4)`` ``(x0, y0, x1, y1)`` (x1, y1
    exclusive) and ``areas`` ``(count,)`` in base-slide pixels; ``pixel_counts`` are in label-image pixels.
    The label image is ``width x height`` pixels; one of its pixels spans ``scale`` base pixels.
    """

    count: int
    centroids: np.ndarray
    areas: np.ndarray
    bboxes: np.ndarray
    pixel_counts: np.ndarray
    scale: float
    width: int
    height: int
    magnification: float = None
    label_path: str = None
    labels: np.ndarray = None
    info: dict = field(default_factory=dict)

    def bbox_list(self):
        """Bounding boxes flattened to ``[x0, y0, x1, y1, ...]`` floats (the pixelmap ``user.bbox`` layout)."""
        return [round(float(v), 3) for v in self.bboxes.ravel()]


class LabelSink:
    """Collect final label blocks (``-1`` = no superpixel) into a pixelmap TIFF and statistics.

    :param count: number of superpixels (labels are ``0..count-1``).
    :param output_path: TIFF path, or ``None`` to skip writing.
    :param keep_labels: also keep the whole label array in memory (for small images and tests).
    """

    def __init__(self, count, width, height, scale, base_size, output_path=None, magnification=None,
                 mm_per_pixel=None, description=None, keep_labels=False):
        if count > MAX_SUPERPIXELS:
            raise ValueError('%d superpixels do not fit the 24-bit pixelmap (max %d); use a larger radius or '
                             'lower magnification' % (count, MAX_SUPERPIXELS))
        self.count, self.width, self.height = int(count), int(width), int(height)
        self.scale = float(scale)
        self.base_size = base_size
        self.magnification = magnification
        self.output_path = str(output_path) if output_path else None
        self.counts = np.zeros(count, dtype=np.int64)
        self.sum_x = np.zeros(count, dtype=np.float64)
        self.sum_y = np.zeros(count, dtype=np.float64)
        self.bbox = np.empty((count, 4), dtype=np.int64)
        self.bbox[:, :2] = np.iinfo(np.int64).max
        self.bbox[:, 2:] = -1
        self.labels = np.full((height, width), -1, dtype=np.int32) if keep_labels else None
        self.description = dict(description or {})
        self.writer = None
        if self.output_path:
            self.writer = LabelTiffWriter(self.output_path, width, height, mm_per_pixel=mm_per_pixel)

    def add(self, x0, y0, labels, boundary):
        """Add the final labels of block ``[x0, x0 + w) x [y0, y0 + h)`` and its boundary flags."""
        labels = np.ascontiguousarray(labels, dtype=np.int32)
        kernels.accumulate_stats(labels, x0, y0, self.counts, self.sum_x, self.sum_y, self.bbox)
        if self.labels is not None:
            self.labels[y0:y0 + labels.shape[0], x0:x0 + labels.shape[1]] = labels
        if self.writer is not None:
            self.writer.add_block(x0, y0, encode_labels(labels, boundary))

    def add_with_context(self, x0, y0, labels, context):
        """Like :meth:`add`, with ``labels`` padded by ``context = (top, left, bottom, right)`` neighbour pixels
        so boundary flags are right at block edges; only the inner block is stored."""
        top, left, bottom, right = context
        h, w = labels.shape
        inner = labels[top:h - bottom, left:w - right]
        boundary = boundary_mask(labels)[top:h - bottom, left:w - right] & (inner >= 0)
        self.add(x0, y0, inner, boundary)

    def finish(self, info=None):
        """Close the TIFF and return the :class:`SuperpixelSet`."""
        present = self.counts > 0
        if not present.all():
            raise RuntimeError('%d superpixel(s) ended with no pixels' % int((~present).sum()))
        scale = self.scale
        base_w, base_h = self.base_size
        centroids = np.stack([(self.sum_x / self.counts + 0.5) * scale,
                              (self.sum_y / self.counts + 0.5) * scale], axis=1)
        bboxes = np.empty((self.count, 4), dtype=np.float64)
        bboxes[:, 0] = self.bbox[:, 0] * scale
        bboxes[:, 1] = self.bbox[:, 1] * scale
        bboxes[:, 2] = np.minimum((self.bbox[:, 2] + 1) * scale, base_w)
        bboxes[:, 3] = np.minimum((self.bbox[:, 3] + 1) * scale, base_h)
        info = dict(info or {})
        if self.writer is not None:
            self.description.update({'indexCount': self.count * 2, 'superpixelCount': self.count,
                                     'boundaries': True, 'scale': scale,
                                     'magnification': self.magnification})
            self.writer.description = json.dumps(self.description)
            self.writer.close()
        return SuperpixelSet(
            count=self.count, centroids=centroids, areas=self.counts * scale * scale, bboxes=bboxes,
            pixel_counts=self.counts.copy(), scale=scale, width=self.width, height=self.height,
            magnification=self.magnification, label_path=self.output_path, labels=self.labels, info=info)


def save_superpixel_data(superpixels, path):
    """Write a SuperpixelSet's per-superpixel arrays and scale to an ``.npz`` file (ids are 0..count-1)."""
    np.savez_compressed(
        path, centroids=superpixels.centroids.astype(np.float32), bboxes=superpixels.bboxes.astype(np.float32),
        areas=superpixels.areas.astype(np.float32), scale=np.float64(superpixels.scale),
        magnification=np.float64(superpixels.magnification or 0), size=np.array([superpixels.width,
                                                                                   superpixels.height]))


def load_superpixel_data(path):
    """Read :func:`save_superpixel_data` output: a dict of arrays; ValueError if it is malformed."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    count = len(arrays.get('centroids', ()))
    if (not count or arrays['centroids'].shape != (count, 2) or arrays.get('bboxes', np.empty(0)).shape
            != (count, 4) or arrays.get('areas', np.empty(0)).shape != (count,)):
        raise ValueError('%s is not a superpixel data file (centroids, bboxes, areas)' % path)
    return arrays
