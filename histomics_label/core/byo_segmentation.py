"""Bring-your-own segmentation: use an existing label image or polygons as the superpixel set.

Both paths produce the same :class:`~.superpixel_set.SuperpixelSet` (and pixelmap label TIFF) as the tiled
SLIC, block by block. Superpixel ``i`` maps back to the input through ``info['source_ids']`` (label values)
or ``info['source_index']`` (polygon positions).
"""
import numpy as np
from skimage import draw

from .label_image import decode_labels
from .superpixel_set import LabelSink

BLOCK = 2048


def _label_blocks(width, height, block):
    for y0 in range(0, height, block):
        for x0 in range(0, width, block):
            yield x0, y0, min(width, x0 + block), min(height, y0 + block)


class _LabelSource:
    """Integer labels from an array or an image file (pixelmap RGB is decoded; one band is used as is)."""

    def __init__(self, labels, pixelmap=None):
        self.array, self.source = None, None
        if isinstance(labels, np.ndarray):
            if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError('a label array must be 2-D integers, got %s %r' % (labels.dtype, labels.shape))
            self.array = labels
            self.height, self.width = labels.shape
            self.pixelmap = False
        else:
            import large_image

            self.source = large_image.open(str(labels))
            meta = self.source.getMetadata()
            self.width, self.height = meta['sizeX'], meta['sizeY']
            bands = meta.get('bandCount', 1)
            self.pixelmap = bands >= 3 if pixelmap is None else pixelmap

    def read(self, x0, y0, x1, y1):
        if self.array is not None:
            return self.array[y0:y1, x0:x1].astype(np.int64)
        import large_image

        data, _ = self.source.getRegion(region=dict(left=x0, top=y0, right=x1, bottom=y1),
                                        format=large_image.constants.TILE_FORMAT_NUMPY)
        if self.pixelmap:
            return decode_labels(data)[0]
        return data[:, :, 0].astype(np.int64) if data.ndim == 3 else data.astype(np.int64)


def superpixels_from_labels(labels, output_path=None, scale=1.0, base_size=None, background=0,
                            pixelmap=None, block=BLOCK, keep_labels=False):
    """Superpixels from a label image (array or file; one superpixel per distinct value).

    :param labels: 2-D integer array, or a path to a label image (a pixelmap RGB TIFF is decoded, with its
        background as none; other images use their first band).
    :param scale: base-slide pixels per label pixel.
    :param base_size: ``(width, height)`` of the base slide, for clipping boxes (default from ``scale``).
    :param background: label value meaning "no superpixel" (``None``: every value is a superpixel). Decoded
        pixelmaps always use ``-1``.
    """
    src = _LabelSource(labels, pixelmap)
    if src.pixelmap:
        background = -1
    width, height = src.width, src.height
    ids = np.empty(0, dtype=np.int64)
    for x0, y0, x1, y1 in _label_blocks(width, height, block):
        ids = np.union1d(ids, np.unique(src.read(x0, y0, x1, y1)))
    if background is not None:
        ids = ids[ids != background]
    if not len(ids):
        raise ValueError('the label image holds no labels other than the background value %r' % (background,))
    base_size = base_size or (int(round(width * scale)), int(round(height * scale)))
    sink = LabelSink(len(ids), width, height, scale, base_size, output_path=output_path,
                     keep_labels=keep_labels, description={'method': 'labels'})
    for x0, y0, x1, y1 in _label_blocks(width, height, block):
        cx0, cy0, cx1, cy1 = max(0, x0 - 1), max(0, y0 - 1), min(width, x1 + 1), min(height, y1 + 1)
        raw = src.read(cx0, cy0, cx1, cy1)
        index = np.clip(np.searchsorted(ids, raw), 0, len(ids) - 1)
        mapped = np.where(ids[index] == raw, index, -1).astype(np.int32)
        sink.add_with_context(x0, y0, mapped, (y0 - cy0, x0 - cx0, cy1 - y1, cx1 - x1))
    return sink.finish(info={'method': 'labels', 'source_ids': ids})


def _ring(points, where):
    ring = np.asarray(points, dtype=np.float64)
    if ring.ndim != 2 or ring.shape[1] < 2:
        raise ValueError('%s: a ring must be a list of (x, y) points, got shape %r' % (where, ring.shape))
    ring = ring[:, :2]
    if not np.isfinite(ring).all():
        raise ValueError('%s: coordinates must be finite numbers' % where)
    if len(ring) > 1 and (ring[0] == ring[-1]).all():
        ring = ring[:-1]
    if len(ring) < 3:
        raise ValueError('%s: a polygon needs at least 3 distinct points, got %d' % (where, len(ring)))
    x, y = ring[:, 0], ring[:, 1]
    if abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) < 1e-9:
        raise ValueError('%s: the polygon has zero area' % where)
    return ring


def normalize_polygons(polygons):
    """Polygons as lists of rings ``[exterior, hole, ...]`` of ``(n, 2)`` arrays in base-slide pixels.

    Accepts ``(n, 2)`` arrays / point lists, lists of rings, GeoJSON (FeatureCollection, Feature, Polygon,
    MultiPolygon; each polygon of a MultiPolygon becomes its own superpixel) and large_image ``polyline``
    elements (``points``). Raises ValueError on anything malformed.
    """
    if isinstance(polygons, dict):
        polygons = [polygons]
    out = []
    for i, item in enumerate(polygons):
        where = 'polygon %d' % i
        if isinstance(item, dict):
            kind = item.get('type')
            if kind == 'FeatureCollection':
                out.extend(normalize_polygons(item.get('features', [])))
                continue
            if kind == 'Feature':
                out.extend(normalize_polygons([item.get('geometry') or {}]))
                continue
            if kind == 'Polygon':
                out.append([_ring(r, where) for r in item.get('coordinates', [])] or _fail(where))
                continue
            if kind == 'MultiPolygon':
                for poly in item.get('coordinates', []):
                    out.append([_ring(r, where) for r in poly] or _fail(where))
                continue
            if 'points' in item:
                out.append([_ring(item['points'], where)] +
                           [_ring(h, where) for h in item.get('holes', [])])
                continue
            raise ValueError('%s: unsupported geometry %r' % (where, kind))
        try:
            arr = np.asarray(item, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.ndim == 2:
            out.append([_ring(arr, where)])
        elif isinstance(item, (list, tuple)) and item:
            out.append([_ring(r, where) for r in item])
        else:
            raise ValueError('%s: expected an (n, 2) point list or a list of rings' % where)
    return out


def _fail(where):
    raise ValueError('%s: polygon without rings' % where)


def _rasterize(polygons, boxes, x0, y0, x1, y1, scale):
    """Paint polygon indices (later ones on top) into block ``[x0, x1) x [y0, y1)``; -1 elsewhere."""
    out = np.full((y1 - y0, x1 - x0), -1, dtype=np.int32)
    hit = np.nonzero((boxes[:, 0] < (x1 + 0.5) * scale) & (boxes[:, 2] > (x0 - 0.5) * scale) &
                     (boxes[:, 1] < (y1 + 0.5) * scale) & (boxes[:, 3] > (y0 - 0.5) * scale))[0]
    for idx in hit:
        rings = polygons[idx]
        inside = np.zeros(out.shape, dtype=bool)
        for k, ring in enumerate(rings):
            cols = ring[:, 0] / scale - 0.5 - x0
            rows = ring[:, 1] / scale - 0.5 - y0
            rr, cc = draw.polygon(rows, cols, shape=out.shape)
            inside[rr, cc] = k == 0
        out[inside] = idx
    return out


def superpixels_from_polygons(polygons, base_size, output_path=None, scale=1.0, block=BLOCK,
                              keep_labels=False):
    """Superpixels from polygons in base-slide pixels (see :func:`normalize_polygons` for the forms).

    :param base_size: ``(width, height)`` of the base slide.
    :param scale: base-slide pixels per label pixel (e.g. 2 to rasterize a 40x slide at 20x).
    Where polygons overlap the later one wins; polygons that cover no pixel centre are dropped, so
    ``info['source_index'][i]`` gives the input polygon of superpixel ``i``.
    """
    rings = normalize_polygons(polygons)
    if not rings:
        raise ValueError('no polygons given')
    base_w, base_h = int(base_size[0]), int(base_size[1])
    if scale <= 0:
        raise ValueError('scale must be positive')
    width, height = max(1, int(base_w / scale + 1e-9)), max(1, int(base_h / scale + 1e-9))
    boxes = np.array([[r[0][:, 0].min(), r[0][:, 1].min(), r[0][:, 0].max(), r[0][:, 1].max()]
                      for r in rings])
    counts = np.zeros(len(rings), dtype=np.int64)
    for x0, y0, x1, y1 in _label_blocks(width, height, block):
        # same haloed blocks as the writing pass below, so both passes paint identical pixels
        cx0, cy0, cx1, cy1 = max(0, x0 - 1), max(0, y0 - 1), min(width, x1 + 1), min(height, y1 + 1)
        painted = _rasterize(rings, boxes, cx0, cy0, cx1, cy1, scale)[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
        counts += np.bincount(painted[painted >= 0], minlength=len(rings))
    source_index = np.nonzero(counts)[0]
    if not len(source_index):
        raise ValueError('no polygon covers any pixel of the %dx%d label image' % (width, height))
    remap = np.full(len(rings) + 1, -1, dtype=np.int32)
    remap[source_index] = np.arange(len(source_index), dtype=np.int32)
    sink = LabelSink(len(source_index), width, height, scale, (base_w, base_h), output_path=output_path,
                     keep_labels=keep_labels, description={'method': 'polygons'})
    for x0, y0, x1, y1 in _label_blocks(width, height, block):
        cx0, cy0, cx1, cy1 = max(0, x0 - 1), max(0, y0 - 1), min(width, x1 + 1), min(height, y1 + 1)
        painted = _rasterize(rings, boxes, cx0, cy0, cx1, cy1, scale)
        sink.add_with_context(x0, y0, remap[painted], (y0 - cy0, x0 - cx0, cy1 - y1, cx1 - x1))
    return sink.finish(info={'method': 'polygons', 'source_index': source_index,
                             'dropped': int(len(rings) - len(source_index))})

