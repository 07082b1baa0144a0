"""Importing a Histomics Label v1 project ("Superpixel Epoch N" pixelmap annotations) into ours."""
import os

import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

from conftest import SLIDE


@pytest.fixture
def v1_annotation(admin, project, slide_item, tmp_path):
    """What v1 leaves on a slide: a label image item and a pixelmap annotation labeling a few superpixels."""
    from girder.models.item import Item
    from girder.models.upload import Upload
    from girder_large_image.models.image_item import ImageItem
    from girder_large_image_annotation.models.annotation import Annotation

    from histomics_label.core.superpixels import compute_superpixels
    from histomics_label.models.project import Project

    path = str(tmp_path / 'v1 labels.tiff')
    result = compute_superpixels(SLIDE, output_path=path, radius=150)
    with open(path, 'rb') as f:
        file = Upload().uploadFromFile(f, os.path.getsize(path), 'v1 labels.tiff', parentType='folder',
                                       parent=Project().data_folder(project, admin), user=admin)
    label_item = Item().load(file['itemId'], force=True)
    if 'largeImage' not in label_item:
        ImageItem().createImageItem(label_item, file, user=admin, createJob=False)
    values = [0] * result.count
    values[0], values[1], values[2] = 1, 2, 2
    categories = [{'label': 'default', 'fillColor': 'rgba(0, 0, 0, 0)', 'strokeColor': 'rgba(0, 0, 0, 1)'},
                  {'label': 'Tumor', 'fillColor': 'rgba(255, 0, 0, 0.5)', 'strokeColor': 'rgb(255, 0, 0)'},
                  {'label': 'Stroma', 'fillColor': 'rgba(0, 0, 255, 0.5)', 'strokeColor': 'rgb(0, 0, 255)'}]
    for epoch in (1, 3):
        Annotation().createAnnotation(slide_item, admin, {'name': 'Superpixel Epoch %d' % epoch, 'elements': [{
            'type': 'pixelmap', 'girderId': str(label_item['_id']), 'boundaries': True,
            'transform': {'xoffset': 0, 'yoffset': 0, 'matrix': [[1, 0], [0, 1]]},
            'values': values if epoch == 3 else [0] * result.count, 'categories': categories,
            'user': {'bbox': result.bbox_list()}}]})
    return result, label_item


@pytest.mark.plugin('histomics_label')
def test_import_a_v1_project(server, admin, labeler, project, v1_annotation):
    from histomics_label.models.label import Label
    from histomics_label.models.slide import ProjectSlide

    result, label_item = v1_annotation
    path = '/histomics_label/project/%s/import_v1' % project['_id']
    assertStatus(server.request(path, method='POST', user=labeler), 403)
    resp = server.request(path, method='POST', user=admin)
    assertStatusOk(resp)
    assert resp.json[0]['imported'] is True and resp.json[0]['epoch'] == 3
    assert resp.json[0]['superpixels'] == result.count and resp.json[0]['labels'] == 3
    slide = ProjectSlide().findOne({'projectId': project['_id']})
    assert slide['superpixelCount'] == result.count
    assert slide['segmentation']['labelItemId'] == label_item['_id'] and slide['segmentation']['dataFileId']
    labels = {l['superpixel']: l for l in Label().find({'projectId': project['_id']})}
    categories = {c['_id']: c['name'] for c in server.request(
        '/histomics_label/project/%s/category' % project['_id'], user=admin).json}
    assert {sp: categories[str(l['categoryId'])] for sp, l in labels.items()} == {
        0: 'Tumor', 1: 'Stroma', 2: 'Stroma'}
    assert {l['source'] for l in labels.values()} == {'import'} and {l['epoch'] for l in labels.values()} == {3}
    # importing again does not duplicate anything: the slide has labels now
    again = server.request(path, method='POST', user=admin).json
    assert again[0]['imported'] is False and again[0]['reason'] == 'the slide has labels'
    assert Label().find({}).count() == 3
