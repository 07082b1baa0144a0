"""HistomicsUI views of a project: per slide, a pixelmap annotation of the effective labels and one of
the current epoch's predictions, drawn over the segmentation's label image.

They are regenerated per epoch (predictions) and on demand (labels), never per label click, so
HistomicsUI users see the project without any client of ours and concurrent labelers never contend on them.
"""
import types

import numpy as np
from girder_large_image_annotation.models.annotation import Annotation
from girder.models.item import Item

from ..core.pixelmap import pixelmap_annotation
from ..models.category import Category
from ..models.prediction import Prediction
from ..models.review import slide_effective_labels
from ..models.slide import ProjectSlide
from ..models.states import StageStatus
from ..models.superpixels import SuperpixelGeometry

UNLABELED = {'label': 'unlabeled', 'fillColor': 'rgba(0, 0, 0, 0)', 'strokeColor': 'rgba(0, 0, 0, 0)'}
#: fill opacity of the categories in HistomicsUI's own view: the tissue under a label must stay readable
FILL_ALPHA = 0.4


def translucent(color, alpha=FILL_ALPHA):
    """A category colour (#rrggbb[aa], rgb() or rgba(); validated by the category model) as rgba() with
    ``alpha`` times its own opacity."""
    if color.startswith('#'):
        values = [int(color[i:i + 2], 16) for i in range(1, len(color), 2)]
        rgb, own = values[:3], (values[3] / 255 if len(values) > 3 else 1.0)
    else:
        numbers = [float(v) for v in color[color.index('(') + 1:color.rindex(')')].split(',')]
        rgb, own = [int(v) for v in numbers[:3]], (numbers[3] if len(numbers) > 3 else 1.0)
    return 'rgba(%d, %d, %d, %.3g)' % (rgb[0], rgb[1], rgb[2], own * alpha)


def _categories(project):
    """Pixelmap categories and category id -> pixelmap value: value 0 is transparent (unlabeled), so each
    category's value is its column (:meth:`Category.columns`) plus one. Fills are translucent."""
    categories, column = Category().columns(project)
    return [UNLABELED] + [{'label': c['name'], 'fillColor': translucent(c['fillColor']),
                           'strokeColor': c['strokeColor']}
                          for c in categories], {key: index + 1 for key, index in column.items()}


def _superpixels(slide):
    """What the pixelmap builder needs from a segmentation: count, scale and boxes."""
    _, bboxes = SuperpixelGeometry().geometry(slide)
    label_item = Item().load(slide['segmentation']['labelItemId'], force=True)
    scale = float(slide['segmentation'].get('scale') or 1)  # base-slide pixels per label-image pixel
    return types.SimpleNamespace(count=len(bboxes), scale=scale,
                                 bbox_list=lambda: [round(float(v), 3) for v in bboxes.ravel()]), label_item


def _replace(slide, kind, item, user, annotation):
    """Create the slide's ``kind`` annotation, or update it in place (annotation history keeps versions)."""
    annotation_id = (slide.get('annotations') or {}).get(kind)
    existing = Annotation().load(annotation_id, force=True) if annotation_id else None
    if existing is None:
        created = Annotation().createAnnotation(item, user, annotation)
        ProjectSlide().update({'_id': slide['_id']}, {'$set': {'annotations.%s' % kind: created['_id']}})
        return created
    existing['annotation'] = annotation
    return Annotation().updateAnnotation(existing, updateUser=user)


def sync_slide_annotations(project, slide, user, kinds=('labels', 'predictions')):
    """(Re)write the labels and/or predictions pixelmaps of one segmented slide; returns their ids.
    A slide whose superpixels came without a label image has nothing to draw them with and is skipped."""
    if slide['segmentation'].get('status') != StageStatus.DONE or not slide['segmentation'].get('labelItemId'):
        return {}
    superpixels, label_item = _superpixels(slide)
    item = Item().load(slide['itemId'], force=True)
    categories, column = _categories(project)
    resolve = Category().resolve(Category().list(project))
    written = {}
    if 'labels' in kinds:
        values = np.zeros(superpixels.count, dtype=int)
        for superpixel, entry in slide_effective_labels(project, slide['itemId'], resolve).items():
            if entry['categoryId'] is not None:
                values[superpixel] = column[entry['categoryId']]
        written['labels'] = _replace(slide, 'labels', item, user, pixelmap_annotation(
            superpixels, label_item['_id'], name='%s: labels' % project['name'], categories=categories,
            values=values.tolist(), attributes={'histomicsLabel': {'projectId': str(project['_id']),
                                                                   'kind': 'labels'}}))['_id']
    arrays = Prediction().slide_arrays(project, slide) if 'predictions' in kinds else None
    if arrays is not None:
        predicted, _, certainty, category_ids = arrays
        mapped = np.array([column.get(resolve.get(c, c), 0) for c in category_ids])[predicted.astype(int)]
        written['predictions'] = _replace(slide, 'predictions', item, user, pixelmap_annotation(
            superpixels, label_item['_id'], name='%s: predictions' % project['name'], categories=categories,
            values=mapped.tolist(), attributes={'histomicsLabel': {
                'projectId': str(project['_id']), 'kind': 'predictions', 'epoch': project['epoch'],
                'meanCertainty': round(float(certainty.mean()), 4)}}))['_id']
    return written
