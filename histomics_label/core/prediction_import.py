"""Model output brought back as per-superpixel predictions: GeoJSON polygons or a label image, read at each
superpixel's centroid (base-slide pixels).

- GeoJSON: a superpixel takes the category of the (Multi)Polygon feature its centroid lies in (inside the
  exterior, outside the holes); where features overlap, the later one wins. The category is the feature's
  ``properties.classification.name`` (QuPath, our exports) or ``properties.category``; its certainty is
  ``properties.certainty``, ``properties.probability`` or ``classification.probability`` when given.
  Features without a category or a polygon (unclassified regions, points) are skipped and counted.
- Label image: a superpixel takes the code of the pixel under its centroid (0: none), the image being scaled
  to span the whole slide.

Results are ``(column per superpixel, -1 for none; certainty per superpixel, NaN when not given)``, columns
indexing the category names in order of first appearance.
"""
import numpy as np
from skimage.measure import points_in_poly

POLYGON_TYPES = ('Polygon', 'MultiPolygon')


def feature_category(feature):
    """(category name, certainty or None) of a GeoJSON feature; (None, None) without a category."""
    properties = feature.get('properties') or {}
    classification = properties.get('classification') or {}
    name = classification.get('name') if isinstance(classification, dict) else None
    name = name or properties.get('category')
    certainty = next((value for value in (properties.get('certainty'), properties.get('probability'),
                                          classification.get('probability') if isinstance(classification, dict)
                                          else None) if isinstance(value, (int, float))), None)
    return (str(name) if name not in (None, '') else None), certainty


def _inside(points, polygon):
    """Which ``points`` lie inside a GeoJSON polygon (exterior ring minus holes)."""
    exterior = np.asarray(polygon[0], dtype=np.float64)[:, :2]
    low, high = exterior.min(axis=0), exterior.max(axis=0)
    candidates = np.flatnonzero(((points >= low) & (points <= high)).all(axis=1))
    inside = np.zeros(len(points), dtype=bool)
    if len(candidates):
        hit = points_in_poly(points[candidates], exterior)
        for hole in polygon[1:]:
            hit &= ~points_in_poly(points[candidates], np.asarray(hole, dtype=np.float64)[:, :2])
        inside[candidates] = hit
    return inside


def assign_features(features, centroids):
    """``(columns, certainty, names, skipped)`` from GeoJSON ``features`` (see the module docstring); ValueError
    for a polygon feature with malformed coordinates."""
    centroids = np.asarray(centroids, dtype=np.float64)
    columns = np.full(len(centroids), -1, dtype=np.int32)
    certainty = np.full(len(centroids), np.nan, dtype=np.float32)
    names, skipped = [], 0
    for number, feature in enumerate(features):
        feature = feature if isinstance(feature, dict) else {}
        geometry = feature.get('geometry') or {}
        name, value = feature_category(feature)
        if geometry.get('type') not in POLYGON_TYPES or name is None:
            skipped += 1
            continue
        try:
            polygons = [geometry['coordinates']] if geometry['type'] == 'Polygon' else geometry['coordinates']
            inside = np.zeros(len(centroids), dtype=bool)
            for polygon in polygons:
                inside |= _inside(centroids, polygon)
        except (TypeError, ValueError, IndexError, KeyError):
            raise ValueError('feature %d has malformed coordinates' % number)
        if name not in names:
            names.append(name)
        columns[inside] = names.index(name)
        certainty[inside] = np.nan if value is None else value
    return columns, certainty, names, skipped


def sample_codes(tiles, centroids, image_size, base_size):
    """Codes under each centroid of a label image given as ``tiles`` (``(x, y, array)`` blocks covering it);
    the image spans the slide (``image_size`` and ``base_size`` are ``(width, height)``). Returns int64 codes
    (0 where no tile covered a centroid)."""
    centroids = np.asarray(centroids, dtype=np.float64)
    px = np.minimum((centroids[:, 0] * image_size[0] / base_size[0]).astype(np.int64), image_size[0] - 1)
    py = np.minimum((centroids[:, 1] * image_size[1] / base_size[1]).astype(np.int64), image_size[1] - 1)
    codes = np.zeros(len(centroids), dtype=np.int64)
    for x0, y0, block in tiles:
        block = block[..., 0] if block.ndim == 3 else block
        h, w = block.shape
        hit = np.flatnonzero((px >= x0) & (px < x0 + w) & (py >= y0) & (py < y0 + h))
        codes[hit] = block[py[hit] - y0, px[hit] - x0]
    return codes
