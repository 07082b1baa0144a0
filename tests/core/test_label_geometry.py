"""Streamed superpixel geometry of a label image against a whole-image numpy computation."""
import numpy as np
import pytest

from histomics_label.core import label_image as li
from histomics_label.core.label_geometry import LabelImageMismatch, label_image_geometry


def _labels():
    """700 x 900 labels over 3 x 4 tiles of 256: a grid of blocks, a background corner, a ring around a disc
    and a C shape (non-convex: their mean positions lie in other superpixels), spanning tile edges."""
    labels = (np.arange(700)[:, None] // 90 * 10 + np.arange(900)[None, :] // 110).astype(np.int64)
    labels[:40, :70] = -1
    yy, xx = np.mgrid[:700, :900]
    r = np.hypot(yy - 256, xx - 512)
    labels[r < 120] = 100  # ring ...
    labels[r < 60] = 101  # ... around a disc: the ring's mean is in the disc
    c_shape = (np.abs(yy - 560) < 100) & (np.abs(xx - 200) < 100) & ~((np.abs(yy - 560) < 60) & (xx > 160))
    labels[c_shape] = 102  # the C's mean is in its mouth, which keeps the grid labels
    ids, inverse = np.unique(labels, return_inverse=True)
    labels = inverse.reshape(labels.shape) - 1  # consecutive 0..n-1 (ring, disc, C last), background -1
    assert ids[0] == -1 and ids[-3:].tolist() == [100, 101, 102]
    return labels


def _expected(labels, scale):
    """Whole-image areas, boxes, means (label pixels) and, per superpixel, the squared distance from its mean
    to its nearest own pixel centre, and whether the pixel holding its mean is its own."""
    count = labels.max() + 1
    flat = labels.ravel()
    keep = flat >= 0
    ys, xs = np.divmod(np.flatnonzero(keep), labels.shape[1])
    k = flat[keep]
    areas = np.bincount(k, minlength=count)
    means = np.stack([np.bincount(k, xs, count), np.bincount(k, ys, count)], 1) / areas[:, None] + 0.5
    boxes, nearest = np.zeros((count, 4)), np.zeros(count)
    for i in range(count):
        py, px = np.nonzero(labels == i)
        boxes[i] = px.min(), py.min(), px.max() + 1, py.max() + 1
        nearest[i] = ((px + 0.5 - means[i, 0]) ** 2 + (py + 0.5 - means[i, 1]) ** 2).min()
    cells = np.floor(means).astype(int)
    own = labels[cells[:, 1], cells[:, 0]] == np.arange(count)
    return areas, boxes * scale, means, nearest, own


def test_streamed_geometry_matches_whole_image_numpy(tmp_path):
    labels = _labels()
    li.write_label_tiff(tmp_path / 'labels.tiff', labels, block=256)
    areas, boxes, means, nearest, own = _expected(labels, 2.5)
    n = labels.max() + 1
    ring, disc, c_shape = n - 3, n - 2, n - 1
    result = label_image_geometry(tmp_path / 'labels.tiff', n, scale=2.5, block=256)
    assert (result.width, result.height, result.count, result.scale) == (900, 700, n, 2.5)
    assert (result.pixel_counts == areas).all()
    assert np.allclose(result.areas, areas * 2.5 ** 2)
    assert np.allclose(result.bboxes, boxes)
    # every centroid is the centre of a pixel of its own superpixel ...
    pixels = result.centroids / 2.5 - 0.5
    assert np.array_equal(pixels, np.round(pixels))
    px, py = pixels.astype(int).T
    assert (labels[py, px] == np.arange(n)).all()
    # ... the pixel holding the mean when it is theirs, else the nearest own pixel to the mean
    assert np.array_equal(np.flatnonzero(~own), result.info['moved'])
    assert np.array_equal(np.stack([px, py], 1)[own], np.floor(means[own]).astype(int))
    assert np.allclose(((pixels + 0.5 - means) ** 2).sum(1)[~own], nearest[~own])
    # the ring's mean lies in the disc and the C's in its mouth: both moved (with grid blocks the ring cuts)
    assert labels[int(means[ring, 1]), int(means[ring, 0])] == disc
    assert {ring, c_shape} <= set(result.info['moved']) and disc not in result.info['moved']


def test_block_size_and_base_size(tmp_path):
    labels = _labels()
    li.write_label_tiff(tmp_path / 'labels.tiff', labels, block=256)
    n = labels.max() + 1
    small = label_image_geometry(tmp_path / 'labels.tiff', n, scale=2, block=256)
    large = label_image_geometry(tmp_path / 'labels.tiff', n, scale=2, block=4096)
    assert np.array_equal(small.centroids, large.centroids) and np.array_equal(small.bboxes, large.bboxes)
    clipped = label_image_geometry(tmp_path / 'labels.tiff', n, scale=2, base_size=(1799, 1399))
    assert clipped.bboxes[:, 2].max() == 1799 and clipped.bboxes[:, 3].max() == 1399


def test_without_boundaries(tmp_path):
    labels = _labels()
    path = tmp_path / 'plain.tiff'
    with li.LabelTiffWriter(path, 900, 700) as writer:
        for y in range(0, 700, 512):
            for x in range(0, 900, 512):
                sub = labels[y:y + 512, x:x + 512]
                writer.add_block(x, y, li.value_to_rgb(np.where(sub < 0, li.BACKGROUND, sub)))
    areas, boxes, _, _, _ = _expected(labels, 1.0)
    result = label_image_geometry(path, labels.max() + 1, boundaries=False, block=300)
    assert (result.pixel_counts == areas).all() and np.allclose(result.bboxes, boxes)
    li.write_label_tiff(tmp_path / 'labels.tiff', labels)
    assert np.array_equal(result.centroids, label_image_geometry(tmp_path / 'labels.tiff', labels.max() + 1).centroids)


def test_mismatched_counts(tmp_path):
    labels = _labels()
    li.write_label_tiff(tmp_path / 'labels.tiff', labels, block=256)
    n = labels.max() + 1
    with pytest.raises(LabelImageMismatch, match='holds superpixel %d .* only 50 superpixels' % (n - 1)):
        label_image_geometry(tmp_path / 'labels.tiff', 50)
    with pytest.raises(LabelImageMismatch, match='no pixels for 2 of %d superpixels .e.g. %d, %d' % (
            n + 2, n, n + 1)):
        label_image_geometry(tmp_path / 'labels.tiff', n + 2)
    with pytest.raises(LabelImageMismatch, match='at least one'):
        label_image_geometry(tmp_path / 'labels.tiff', 0)
