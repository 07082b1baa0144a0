"""Importing a Histomics Label v1 project ("Superpixel Epoch N" pixelmap annotations) into ours."""
import functools
import io
import math
import re

import numpy as np
import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

from conftest import SLIDE, upload_large_image

SCALE = 2  # the label image is at half the slide's resolution
TILE = 512  # HistomicsTK segments tile by tile


@functools.lru_cache(maxsize=1)
def histomicstk_segmentation():
    """Label the slide as HistomicsTK's SuperpixelSegmentation CLI (no overlap) does for v1: SLIC per tile,
    indices continuing from tile to tile, every tile edge a boundary, and ``user.bbox`` from each tile's
    regionprops in base pixels, with its bug: the last superpixel of each tile gets the whole tile's box.

    Returns ``(labels, boundary, bbox list, last superpixel of each tile)``.
    """
    import large_image
    from skimage.measure import regionprops
    from skimage.segmentation import slic

    from histomics_label.core.label_image import boundary_mask

    source = large_image.open(SLIDE)
    rgb = source.getRegion(scale={'magnification': source.getMetadata()['magnification'] / SCALE},
                           format=large_image.constants.TILE_FORMAT_NUMPY)[0][..., :3]
    height, width = rgb.shape[:2]
    labels = np.empty((height, width), dtype=np.int64)
    boundary = np.empty((height, width), dtype=bool)
    boxes, last, found = [], [], 0
    for ty in range(0, height, TILE):
        for tx in range(0, width, TILE):
            img = rgb[ty:ty + TILE, tx:tx + TILE]
            th, tw = img.shape[:2]
            segments = slic(img, n_segments=math.ceil(th * tw / 64 ** 2), compactness=10, sigma=1,
                            start_label=0, enforce_connectivity=True)
            assert (np.unique(segments) == np.arange(segments.max() + 1)).all()
            for props in regionprops(segments + 1):
                y0, x0, y1, x1 = props.bbox
                boxes.append([(x0 + tx) * SCALE, (y0 + ty) * SCALE, (x1 + tx) * SCALE, (y1 + ty) * SCALE])
            boxes[-1] = [tx * SCALE, ty * SCALE, (tx + tw) * SCALE, (ty + th) * SCALE]
            last.append(found + segments.max())
            edges = boundary_mask(segments)
            edges[[0, -1], :] = True
            edges[:, [0, -1]] = True
            labels[ty:ty + th, tx:tx + tw] = segments + found
            boundary[ty:ty + th, tx:tx + tw] = edges
            found += segments.max() + 1
    return labels, boundary, [float(v) for box in boxes for v in box], np.array(last)


CATEGORIES = [{'label': 'default', 'fillColor': 'rgba(0, 0, 0, 0)', 'strokeColor': 'rgba(0, 0, 0, 1)'},
              {'label': 'Tumor', 'fillColor': 'rgba(255, 0, 0, 0.5)', 'strokeColor': 'rgb(255, 0, 0)'},
              {'label': 'Stroma', 'fillColor': 'rgba(0, 0, 255, 0.5)', 'strokeColor': 'rgb(0, 0, 255)'}]


def annotate(slide_item, admin, label_item, epoch=3, **changes):
    """A v1 "Superpixel Epoch N" annotation labeling superpixels 0, 1 and 2 (``changes`` alter its element)."""
    from girder_large_image_annotation.models.annotation import Annotation

    labels, _, bbox, _ = histomicstk_segmentation()
    values = [0] * (labels.max() + 1)
    values[0], values[1], values[2] = 1, 2, 2
    element = {'type': 'pixelmap', 'girderId': str(label_item['_id']), 'boundaries': True,
               'transform': {'xoffset': 0, 'yoffset': 0, 'matrix': [[SCALE, 0], [0, SCALE]]},
               'values': values, 'categories': CATEGORIES, 'user': {'bbox': bbox}}
    element.update(changes)
    return Annotation().createAnnotation(slide_item, admin, {'name': 'Superpixel Epoch %d' % epoch,
                                                              'elements': [element]})


@pytest.fixture
def v1_label_item(admin, project, tmp_path):
    """The label image v1 leaves in the project's data folder, as a large image item."""
    from histomics_label.core.label_image import LabelTiffWriter, encode_labels
    from histomics_label.models.project import Project

    labels, boundary, _, _ = histomicstk_segmentation()
    path = str(tmp_path / 'v1 labels.tiff')
    with LabelTiffWriter(path, labels.shape[1], labels.shape[0]) as writer:
        for y in range(0, labels.shape[0], TILE):
            for x in range(0, labels.shape[1], TILE):
                writer.add_block(x, y, encode_labels(labels[y:y + TILE, x:x + TILE],
                                                     boundary[y:y + TILE, x:x + TILE]))
    return upload_large_image(path, 'v1 labels.tiff', Project().data_folder(project, admin), admin)


@pytest.mark.plugin('histomics_label')
def test_import_a_v1_project(server, admin, labeler, project, slide_item, v1_label_item):
    from girder.models.file import File
    from scipy import ndimage

    from histomics_label.core.superpixel_set import load_superpixel_data
    from histomics_label.models.label import Label
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    labels, _, bbox, last = histomicstk_segmentation()
    count = labels.max() + 1
    annotate(slide_item, admin, v1_label_item, epoch=1, values=[0] * count)
    annotation = annotate(slide_item, admin, v1_label_item, epoch=3)
    path = '/histomics_label/project/%s/import_v1' % project['_id']
    assertStatus(server.request(path, method='POST', user=labeler), 403)
    resp = server.request(path, method='POST', user=admin)
    assertStatusOk(resp)
    assert resp.json[0]['imported'] is True and resp.json[0]['epoch'] == 3
    assert resp.json[0]['annotationId'] == str(annotation['_id'])
    assert resp.json[0]['superpixels'] == count and resp.json[0]['labels'] == 3
    slide = ProjectSlide().findOne({'projectId': project['_id']})
    assert slide['superpixelCount'] == count
    assert slide['segmentation']['labelItemId'] == v1_label_item['_id'] and slide['segmentation']['scale'] == SCALE

    # v1's boxes are wrong where HistomicsTK gave a tile's last superpixel the whole tile: their centres
    # lie in other superpixels ...
    v1_centres = (np.reshape(bbox, (-1, 4))[last, :2] + np.reshape(bbox, (-1, 4))[last, 2:]) / 2
    outside = labels[(v1_centres[:, 1] // SCALE).astype(int), (v1_centres[:, 0] // SCALE).astype(int)] != last
    assert len(last) == 9 and outside.all()
    # ... while every stored centroid lies in its own superpixel, and boxes and areas are the true ones
    centroids, boxes = SuperpixelGeometry().geometry(slide)
    under = labels[(centroids[:, 1] // SCALE).astype(int), (centroids[:, 0] // SCALE).astype(int)]
    assert (under == np.arange(count)).all()
    extents = ndimage.find_objects(labels + 1)
    true_boxes = np.array([[x.start, y.start, x.stop, y.stop] for y, x in extents]) * SCALE
    true_boxes[:, 2] = np.minimum(true_boxes[:, 2], 2220)
    true_boxes[:, 3] = np.minimum(true_boxes[:, 3], 2967)
    assert np.array_equal(boxes, true_boxes)
    with File().open(File().load(slide['segmentation']['dataFileId'], force=True)) as stream:
        data = load_superpixel_data(io.BytesIO(stream.read()))
    assert np.array_equal(data['areas'], np.bincount(labels.ravel()) * SCALE ** 2)
    assert np.array_equal(data['centroids'], centroids) and np.array_equal(data['bboxes'], boxes)
    assert tuple(data['size']) == (labels.shape[1], labels.shape[0]) and data['scale'] == SCALE
    means = np.stack([ndimage.mean(np.indices(labels.shape)[k], labels, np.arange(count)) for k in (1, 0)], 1)
    moved = labels[means[:, 1].astype(int), means[:, 0].astype(int)] != np.arange(count)
    assert resp.json[0]['centroidsMoved'] == moved.sum() > 0

    labelled = {l['superpixel']: l for l in Label().find({'projectId': project['_id']})}
    categories = {c['_id']: c['name'] for c in server.request(
        '/histomics_label/project/%s/category' % project['_id'], user=admin).json}
    assert {sp: categories[str(l['categoryId'])] for sp, l in labelled.items()} == {
        0: 'Tumor', 1: 'Stroma', 2: 'Stroma'}
    assert {l['source'] for l in labelled.values()} == {'import'}
    assert {l['epoch'] for l in labelled.values()} == {3}
    # importing again does not duplicate anything: the slide has labels now
    again = server.request(path, method='POST', user=admin).json
    assert again[0]['imported'] is False and again[0]['reason'] == 'the slide has labels'
    assert Label().find({}).count() == 3


@pytest.mark.plugin('histomics_label')
@pytest.mark.parametrize('change,reason', [
    ('one more value', 'the label image has no pixels for 1 of %(more)d superpixels .e.g. %(count)d.'),
    ('one value less', 'the label image holds superpixel %(less)d .* only %(less)d superpixels'),
    ('offset', 'only a uniform scale without offset'),
    ('no label image', 'cannot read the label image ffffffffffffffffffffffff'),
])
def test_a_v1_element_that_does_not_match_its_label_image_imports_nothing(
        server, admin, project, slide_item, v1_label_item, change, reason):
    from girder.models.folder import Folder
    from girder.models.item import Item

    from histomics_label.models.category import Category
    from histomics_label.models.label import Label
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    count = histomicstk_segmentation()[0].max() + 1
    values = [1] * count
    changes = {
        'one more value': {'values': values + [0]},
        'one value less': {'values': values[:-1]},
        'offset': {'transform': {'xoffset': 100, 'yoffset': 0, 'matrix': [[SCALE, 0], [0, SCALE]]}},
        'no label image': {'girderId': 'ffffffffffffffffffffffff'},
    }[change]
    annotate(slide_item, admin, v1_label_item, **dict({'values': values}, **changes))
    data_folder = Project().data_folder(project, admin)
    before = {i['_id'] for i in Folder().childItems(data_folder)}
    resp = server.request('/histomics_label/project/%s/import_v1' % project['_id'], method='POST', user=admin)
    assertStatusOk(resp)
    assert resp.json[0]['imported'] is False
    assert re.match(reason % {'count': count, 'more': count + 1, 'less': count - 1},
                    resp.json[0]['reason']), resp.json[0]['reason']
    slide = ProjectSlide().findOne({'projectId': project['_id']})
    assert not slide.get('superpixelCount') and SuperpixelGeometry().find({}).count() == 0
    assert Label().find({}).count() == 0 and Category().list(project) == []
    assert {i['_id'] for i in Folder().childItems(data_folder)} == before
    assert Item().load(v1_label_item['_id'], force=True) is not None
