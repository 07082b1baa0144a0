"""Tissue detection on a low-resolution overview of a slide.

Tissue is what is both coloured (stain saturation above an Otsu threshold) and not glass-bright; small
specks are removed and holes filled. Used to skip background when segmenting and to report empty slides.
"""
import large_image
import numpy as np
from scipy import ndimage
from skimage import color, filters, measure, morphology


def slide_overview(source, max_size=2048):
    """An RGB overview of a slide (path or large_image source) whose longest side is at most ``max_size``;
    returns ``(rgb uint8 array, base pixels per overview pixel)``."""
    if isinstance(source, str):
        source = large_image.open(source)
    overview, _ = source.getRegion(output={'maxWidth': max_size, 'maxHeight': max_size},
                                   format=large_image.constants.TILE_FORMAT_NUMPY)
    if overview.shape[2] == 1:
        overview = np.repeat(overview, 3, axis=2)
    return overview[..., :3].astype(np.uint8), source.sizeX / overview.shape[1]


def tissue_mask(rgb, min_area_fraction=1e-3, brightness_limit=0.92):
    """Return a boolean mask of tissue pixels in an RGB(A) uint8 image."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError('tissue_mask needs an RGB image of shape (height, width, 3), got %r' % (rgb.shape,))
    hsv = color.rgb2hsv(rgb[..., :3])
    saturation, value = hsv[..., 1], hsv[..., 2]
    if float(saturation.max() - saturation.min()) < 1e-3:
        return np.zeros(rgb.shape[:2], dtype=bool)
    threshold = max(filters.threshold_otsu(saturation), 0.05)
    mask = (saturation > threshold) & (value < brightness_limit)
    min_size = max(1, int(min_area_fraction * mask.size))
    mask = morphology.remove_small_objects(mask, max_size=min_size)
    return ndimage.binary_fill_holes(mask)


def mask_to_polygons(mask, scale=1.0, tolerance=1.0, min_area=0.0):
    """Outline each connected region of ``mask`` as a closed polygon in scaled coordinates.

    :param scale: multiplier from mask pixels to output (e.g. base-slide) pixels.
    :param tolerance: polygon simplification tolerance in mask pixels.
    :param min_area: drop polygons smaller than this area (output pixels squared).
    :returns: a list of (N, 2) float arrays of (x, y) vertices.
    """
    padded = np.pad(np.asarray(mask, dtype=float), 1)
    polygons = []
    for contour in measure.find_contours(padded, 0.5):
        contour = measure.approximate_polygon(contour - 1, tolerance=tolerance)
        if len(contour) < 4:
            continue
        xy = contour[:, ::-1] * scale
        if polygon_area(xy) >= min_area:
            polygons.append(xy)
    return polygons


def polygon_area(xy):
    """Unsigned shoelace area of a polygon given as an (N, 2) array."""
    x, y = np.asarray(xy, dtype=float).T
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def tissue_annotation(polygons, name='Tissue', attributes=None):
    """Build a large_image annotation with one closed polyline per tissue region."""
    elements = [{
        'type': 'polyline',
        'closed': True,
        'points': [[round(float(x), 2), round(float(y), 2), 0] for x, y in polygon],
        'fillColor': 'rgba(0, 160, 0, 0.15)',
        'lineColor': 'rgb(0, 160, 0)',
        'lineWidth': 2,
        'label': {'value': 'tissue'},
    } for polygon in polygons]
    return {'name': name, 'description': 'Tissue regions found by Histomics Label',
            'attributes': dict(attributes or {}), 'elements': elements}
