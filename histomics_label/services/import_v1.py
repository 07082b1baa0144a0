"""Import a Histomics Label v1 project: per slide, its latest "Superpixel Epoch N" pixelmap annotation
becomes our superpixels, its categories ours (matched by name), and its non-default ``values`` labels of the
importing user with source ``import`` and epoch N.

The superpixels' centroids, boxes and areas are measured on the element's label image, streamed block by
block (:func:`~..core.label_geometry.label_image_geometry`), not taken from v1's ``user.bbox``: HistomicsTK
gives the last superpixel of some tiles a whole-tile box, whose centre lies in another superpixel. A slide
whose label image does not hold exactly the element's superpixels is reported as not imported and nothing is
written for it.
"""
import io
import re

import numpy as np
from girder.exceptions import ValidationException
from girder.models.item import Item
from girder.models.upload import Upload
from girder_large_image.models.image_item import ImageItem
from girder_large_image_annotation.models.annotation import Annotation
from large_image.exceptions import TileSourceError

from ..core.label_geometry import LabelImageMismatch, label_image_geometry
from ..core.superpixel_set import save_superpixel_data
from ..models.category import Category
from ..models.label import Label
from ..models.superpixels import SuperpixelGeometry
from ..models.slide import ProjectSlide
from ..models.states import StageStatus
from ..models.project import Project

EPOCH_NAME = re.compile(r'^Superpixel Epoch (\d+)$')


def latest_v1_annotation(item):
    """(epoch, annotation with elements) of the item's newest "Superpixel Epoch N" annotation, or None."""
    found = []
    for annotation in Annotation().find({'itemId': item['_id'], '_active': {'$ne': False}},
                                        fields=['annotation.name']):
        match = EPOCH_NAME.match(annotation['annotation'].get('name', ''))
        if match:
            found.append((int(match.group(1)), annotation['_id']))
    if not found:
        return None
    epoch, annotation_id = max(found)
    return epoch, Annotation().load(annotation_id, force=True)


def _pixelmap(annotation):
    for element in annotation['annotation'].get('elements', []):
        if element.get('type') == 'pixelmap' and element.get('girderId'):
            return element
    return None


def _scale(element):
    """Base-slide pixels per label pixel of a pixelmap whose transform is a plain uniform scale."""
    transform = element.get('transform') or {}
    try:
        matrix = np.asarray(transform.get('matrix') or [[1, 0], [0, 1]], dtype=np.float64)
    except (TypeError, ValueError):
        matrix = None
    if (matrix is None or matrix.shape != (2, 2) or matrix[0, 1] or matrix[1, 0] or matrix[0, 0] <= 0 or
            matrix[0, 0] != matrix[1, 1] or transform.get('xoffset') or transform.get('yoffset')):
        raise LabelImageMismatch('only a uniform scale without offset is supported as the pixelmap '
                                 'transform, got %r' % (transform,))
    return float(matrix[0, 0])


def measure_superpixels(element, item):
    """``(label item, SuperpixelSet)`` measured on the label image of a v1 pixelmap element of ``item``.

    :raises LabelImageMismatch: the element or its label image cannot give the element's superpixels.
    """
    scale = _scale(element)
    try:
        label_item = Item().load(element['girderId'], force=True, exc=True)
        slide = ImageItem().getMetadata(item)
        return label_item, label_image_geometry(
            ImageItem().tileSource(label_item), len(element.get('values') or []), scale=scale,
            boundaries=bool(element.get('boundaries')), base_size=(slide['sizeX'], slide['sizeY']))
    except (ValidationException, TileSourceError) as exc:
        raise LabelImageMismatch('cannot read the label image %s: %s' % (element['girderId'], exc))


def _store_geometry(project, slide, label_item, superpixels, user):
    buffer = io.BytesIO()
    save_superpixel_data(superpixels, buffer)
    data = Upload().uploadFromFile(io.BytesIO(buffer.getvalue()), len(buffer.getvalue()),
                                   '%s superpixels.npz' % slide['name'].rsplit('.', 1)[0], parentType='folder',
                                   parent=Project().data_folder(project, user), user=user)
    return SuperpixelGeometry().store(
        slide, superpixels.centroids, superpixels.bboxes, labelItemId=label_item['_id'], dataFileId=data['_id'],
        scale=superpixels.scale, importedFrom='Histomics Label v1', error=None)


def import_v1_project(project, user):
    """Import every slide of the project that has a v1 annotation; returns a report per slide."""
    report = []
    for slide in ProjectSlide().list(project):
        item = Item().load(slide['itemId'], force=True)
        found = latest_v1_annotation(item)
        if found is None:
            report.append({'itemId': slide['itemId'], 'imported': False, 'reason': 'no v1 annotation'})
            continue
        epoch, annotation = found
        element = _pixelmap(annotation)
        if element is None:
            report.append({'itemId': slide['itemId'], 'imported': False, 'reason': 'no pixelmap element'})
            continue
        if slide.get('superpixelCount') and Label().findOne({'projectId': project['_id'],
                                                              'itemId': slide['itemId']}):
            report.append({'itemId': slide['itemId'], 'imported': False, 'reason': 'the slide has labels'})
            continue
        if slide['segmentation'].get('status') in (StageStatus.DONE, StageStatus.RUNNING):
            report.append({'itemId': slide['itemId'], 'imported': False,
                           'reason': 'the slide is %s already' % ('segmented' if slide['segmentation']['status'] ==
                                                                  StageStatus.DONE else 'being segmented')})
            continue
        try:
            label_item, superpixels = measure_superpixels(element, item)
        except LabelImageMismatch as exc:
            report.append({'itemId': slide['itemId'], 'imported': False, 'reason': str(exc)})
            continue
        slide = _store_geometry(project, slide, label_item, superpixels, user)
        by_name = {c['name'].lower(): c for c in Category().list(project)}
        column = {}
        for index, category in enumerate(element.get('categories') or []):
            if index == 0:
                continue  # v1's first category is the default (unlabeled) one
            existing = by_name.get(category['label'].lower()) or Category().create(
                project, category['label'], category.get('fillColor'), category.get('strokeColor'))
            by_name[existing['name'].lower()] = existing
            column[index] = str(existing['_id'])
        labels = [{'superpixel': i, 'categoryId': column[value]}
                  for i, value in enumerate(element['values']) if value in column]
        centroids, _ = SuperpixelGeometry().geometry(slide)
        if labels:
            Label().write(project, slide, user, labels, Category().list(project), centroids, source='import',
                          epoch=epoch)
        report.append({'itemId': slide['itemId'], 'imported': True, 'epoch': epoch,
                       'superpixels': superpixels.count, 'labels': len(labels),
                       'centroidsMoved': len(superpixels.info['moved']),
                       'annotationId': annotation['_id']})
    return report
