"""Import a Histomics Label v1 project: per slide, its latest "Superpixel Epoch N" pixelmap annotation
becomes our superpixels (its label image and ``user.bbox``), its categories ours (matched by name), and
its non-default ``values`` labels of the importing user with source ``import`` and epoch N."""
import io
import re
import types

import numpy as np
from girder.models.item import Item
from girder.models.upload import Upload
from girder_large_image_annotation.models.annotation import Annotation

from ..core.superpixel_set import save_superpixel_data
from ..models.category import Category
from ..models.label import Label
from ..models.superpixels import SuperpixelGeometry
from ..models.slide import ProjectSlide
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


def _store_geometry(project, slide, element, user, scale):
    bbox = np.asarray((element.get('user') or {}).get('bbox') or [], dtype=np.float64).reshape(-1, 4)
    if len(bbox) != len(element['values']):
        raise ValueError('user.bbox has %d boxes for %d values' % (len(bbox), len(element['values'])))
    centroids = (bbox[:, :2] + bbox[:, 2:]) / 2
    label_item = Item().load(element['girderId'], force=True, exc=True)
    geometry = types.SimpleNamespace(
        centroids=centroids, bboxes=bbox, areas=np.prod(bbox[:, 2:] - bbox[:, :2], axis=1), scale=scale,
        magnification=None, width=label_item.get('largeImage', {}).get('sizeX', 0),
        height=label_item.get('largeImage', {}).get('sizeY', 0))
    buffer = io.BytesIO()
    save_superpixel_data(geometry, buffer)
    data = Upload().uploadFromFile(io.BytesIO(buffer.getvalue()), len(buffer.getvalue()),
                                   '%s superpixels.npz' % slide['name'].rsplit('.', 1)[0], parentType='folder',
                                   parent=Project().data_folder(project, user), user=user)
    return SuperpixelGeometry().store(slide, centroids, bbox, labelItemId=label_item['_id'], dataFileId=data['_id'],
                                 scale=scale, importedFrom='Histomics Label v1', error=None)


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
        scale = float(((element.get('transform') or {}).get('matrix') or [[1]])[0][0])
        slide = _store_geometry(project, slide, element, user, scale)
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
                       'superpixels': len(element['values']), 'labels': len(labels),
                       'annotationId': annotation['_id']})
    return report
