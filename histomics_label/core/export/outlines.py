"""Outlines of superpixels traced on a label image, block by block.

A superpixel's outline comes from :func:`skimage.measure.find_contours` on its binary mask (foreground
4-connected, background 8-connected). Vertices lie half a pixel from the pixel centres on either side, so a
pixel belongs to the superpixel exactly when its centre lies inside the outline (even-odd rule): rasterizing
the polygon at pixel centres gives back the superpixel's pixels. Collinear vertices are dropped.

Coordinates are returned in base-slide pixels: label pixel ``(col, row)`` covers
``[col, col + 1) x [row, row + 1)`` times ``scale``.
"""
import numpy as np
from skimage.measure import find_contours, points_in_poly

#: side of the label-image blocks whose superpixels are traced together (label pixels)
BLOCK = 1024


def _without_collinear(ring):
    """A closed ring without the vertices where it goes on straight (contour vertices lie on a half-pixel
    grid, so the cross products are exact)."""
    points = ring[:-1]
    before, after = points - np.roll(points, 1, axis=0), np.roll(points, -1, axis=0) - points
    cross = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]
    keep = points[(cross != 0) | ((before * after).sum(axis=1) <= 0)]
    return np.concatenate([keep, keep[:1]])


def _signed_area(ring):
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _oriented(ring, counterclockwise):
    """``ring`` (closed, x/y columns) with the requested orientation (counterclockwise = positive area)."""
    return ring if (_signed_area(ring) > 0) == counterclockwise else ring[::-1]


def mask_polygons(mask):
    """Polygons of a binary mask: ``[[exterior, hole, ...], ...]``, rings as closed ``(k, 2)`` float arrays of
    ``(x, y)`` in pixel-edge coordinates (pixel ``(col, row)`` covers ``[col, col + 1) x [row, row + 1)``);
    exteriors counterclockwise, holes clockwise (in x/y as given)."""
    padded = np.pad(np.asarray(mask, dtype=np.uint8), 1)
    rings = []
    for contour in find_contours(padded, 0.5, fully_connected='low'):
        # (row, col) of the padded array -> (x, y) pixel-edge coordinates of the mask: -1 pad, +0.5 centre
        ring = _without_collinear(contour[:, ::-1] - 0.5)
        if len(ring) >= 4:
            rings.append(ring)
    depth = [sum(1 for j, other in enumerate(rings) if j != i and points_in_poly(ring[:1], other)[0])
             for i, ring in enumerate(rings)]
    areas = [abs(_signed_area(ring)) for ring in rings]
    polygons, owner = [], {}
    for i in sorted(range(len(rings)), key=lambda i: depth[i]):
        if depth[i] % 2 == 0:
            owner[i] = len(polygons)
            polygons.append([_oriented(rings[i], True)])
            continue
        parents = [j for j in owner if depth[j] == depth[i] - 1 and points_in_poly(rings[i][:1], rings[j])[0]]
        parent = min(parents, key=lambda j: areas[j])
        polygons[owner[parent]].append(_oriented(rings[i], False))
    return polygons


def keyhole(polygon):
    """One ring tracing a polygon with holes: each hole is joined to the ring by a zero-width bridge, so that
    even-odd filling (what COCO's pycocotools does) leaves the holes out."""
    ring = polygon[0][:-1]
    for hole in polygon[1:]:
        hole = hole[:-1]
        distances = ((ring[:, None, :] - hole[None, :, :]) ** 2).sum(axis=2)
        at_ring, at_hole = np.unravel_index(int(np.argmin(distances)), distances.shape)
        loop = np.concatenate([hole[at_hole:], hole[:at_hole + 1]])
        ring = np.concatenate([ring[:at_ring + 1], loop, ring[at_ring:]])
    return np.concatenate([ring, ring[:1]])


def label_bounds(bboxes, scale, width, height):
    """Integer label-image boxes ``(x0, y0, x1, y1)`` (exclusive ends) covering base-pixel ``bboxes``, grown
    by a pixel against rounding and clipped to the ``width x height`` label image."""
    boxes = np.asarray(bboxes, dtype=np.float64) / scale
    low = np.floor(boxes[:, :2]).astype(np.int64) - 1
    high = np.ceil(boxes[:, 2:]).astype(np.int64) + 1
    low = np.maximum(low, 0)
    high = np.minimum(high, [width, height])
    return np.hstack([low, high])


def block_keys(bounds, size, block=BLOCK):
    """The block (row-major number) holding each box's top-left corner: superpixels of one block are traced
    from one region read."""
    return (bounds[:, 1] // block) * ((size[0] + block - 1) // block) + bounds[:, 0] // block


def trace_outlines(read_labels, superpixels, bboxes, scale, size, block=BLOCK):
    """Yield ``(superpixel, polygons, pixel_count)`` for each of ``superpixels`` (ascending order is not
    kept: superpixels come block by block).

    :param read_labels: ``read_labels(x0, y0, x1, y1)`` -> int array of superpixel ids (``-1`` none) of that
        label-image region (exclusive ends).
    :param superpixels: ids to trace; ``bboxes`` their base-pixel boxes ``(x0, y0, x1, y1)`` (all superpixels
        of the slide, indexed by id).
    :param scale: base pixels per label pixel; ``size``: ``(width, height)`` of the label image.
    :returns: polygons as :func:`mask_polygons` gives them, in base-slide pixels.
    """
    superpixels = np.asarray(superpixels, dtype=np.int64)
    if not len(superpixels):
        return
    bounds = label_bounds(np.asarray(bboxes)[superpixels], scale, *size)
    keys = block_keys(bounds, size, block)
    order = np.argsort(keys, kind='stable')
    starts = np.flatnonzero(np.r_[True, keys[order][1:] != keys[order][:-1]])
    for start, end in zip(starts, np.r_[starts[1:], len(order)]):
        members = order[start:end]
        x0, y0 = bounds[members, :2].min(axis=0)
        x1, y1 = bounds[members, 2:].max(axis=0)
        labels = read_labels(int(x0), int(y0), int(x1), int(y1))
        for index in members:
            left, top, right, bottom = bounds[index] - [x0, y0, x0, y0]
            mask = labels[top:bottom, left:right] == superpixels[index]
            count = int(mask.sum())
            polygons = [[(ring + [bounds[index, 0], bounds[index, 1]]) * scale for ring in polygon]
                        for polygon in mask_polygons(mask)] if count else []
            yield int(superpixels[index]), polygons, count
