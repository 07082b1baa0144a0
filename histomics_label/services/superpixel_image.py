"""A small picture of one superpixel for film-strip and review cards: the slide around it, with the
superpixel's outline drawn from the segmentation's label image."""
import io

import numpy as np
import PIL.Image
from girder.exceptions import ValidationException
from girder.models.item import Item
from girder_large_image.models.image_item import ImageItem
from large_image.constants import TILE_FORMAT_NUMPY
from scipy import ndimage

from ..core.label_image import decode_labels
from ..models.states import StageStatus
from ..models.superpixels import SuperpixelGeometry, check_superpixel

OUTLINE = (255, 221, 0)  # yellow: visible on H&E pink and purple alike
#: the smallest crop, in base-slide pixels: a fragment of a few pixels still shows the tissue around it
MIN_SIDE = 128


def _crop_box(bbox, slide_size, margin):
    """A square around ``bbox`` (l, t, r, b) grown by ``margin`` of its side on each side (at least
    ``MIN_SIDE``), inside the slide."""
    left, top, right, bottom = (float(v) for v in bbox)
    side = max(max(right - left, bottom - top, 1.0) * (1 + 2 * margin), MIN_SIDE)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    width, height = slide_size
    left = int(max(0, min(cx - side / 2, width - side)))
    top = int(max(0, min(cy - side / 2, height - side)))
    return left, top, int(min(width, left + side + 1)), int(min(height, top + side + 1))


def _outline(mask, thickness):
    """The pixels of ``mask`` within ``thickness`` of its border."""
    return mask & ~ndimage.binary_erosion(mask, iterations=thickness, border_value=0)


def superpixel_image(slide, superpixel, size=160, margin=0.5, quality=85):
    """JPEG bytes: the slide around ``superpixel`` (at most ``size`` pixels a side) with its outline."""
    if slide['segmentation'].get('status') != StageStatus.DONE or not slide['segmentation'].get('labelItemId'):
        raise ValidationException('Slide %s has no superpixels with a label image yet.' % slide['name'], 'itemId')
    geometry = SuperpixelGeometry().geometry(slide)
    check_superpixel(superpixel, len(geometry[1]), 'superpixel')
    item = Item().load(slide['itemId'], force=True)
    meta = ImageItem().getMetadata(item)
    left, top, right, bottom = _crop_box(geometry[1][superpixel], (meta['sizeX'], meta['sizeY']), margin)
    region = {'left': left, 'top': top, 'right': right, 'bottom': bottom, 'units': 'base_pixels'}
    rgb, _ = ImageItem().getRegion(item, region=region, output={'maxWidth': size, 'maxHeight': size},
                                   format=TILE_FORMAT_NUMPY)
    rgb = np.ascontiguousarray(rgb[:, :, :3]).astype(np.uint8)
    label_item = Item().load(slide['segmentation']['labelItemId'], force=True)
    scale = float(slide['segmentation'].get('scale') or 1)
    label_region = {key: int(round(value / scale)) if key != 'units' else value for key, value in region.items()}
    label_region['right'] = max(label_region['right'], label_region['left'] + 1)
    label_region['bottom'] = max(label_region['bottom'], label_region['top'] + 1)
    labels, _ = ImageItem().getRegion(label_item, region=label_region, format=TILE_FORMAT_NUMPY)
    labels, _ = decode_labels(np.asarray(labels)[:, :, :3])
    rows = np.minimum((np.arange(rgb.shape[0]) * labels.shape[0] / rgb.shape[0]).astype(int), labels.shape[0] - 1)
    cols = np.minimum((np.arange(rgb.shape[1]) * labels.shape[1] / rgb.shape[1]).astype(int), labels.shape[1] - 1)
    mask = labels[rows][:, cols] == superpixel  # nearest neighbour: labels never blend
    rgb[_outline(mask, max(1, round(max(rgb.shape[:2]) / 80)))] = OUTLINE
    buffer = io.BytesIO()
    PIL.Image.fromarray(rgb).save(buffer, format='JPEG', quality=quality)
    return buffer.getvalue()
