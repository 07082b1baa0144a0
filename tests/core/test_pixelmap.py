"""Pixelmap annotation elements validate against large_image's annotation schema."""
import jsonschema
import numpy as np
import pytest
import skimage.data

from histomics_label.core.pixelmap import pixelmap_annotation, pixelmap_element
from histomics_label.core.superpixels import compute_superpixels

ITEM_ID = '0123456789abcdef01234567'


@pytest.fixture(scope='module')
def superpixels():
    image = skimage.data.immunohistochemistry()
    return compute_superpixels(image, radius=32, magnification=10, native_magnification=20)


def test_element_fields(superpixels):
    element = pixelmap_element(superpixels, ITEM_ID)
    assert element['type'] == 'pixelmap' and element['girderId'] == ITEM_ID
    assert element['boundaries'] is True
    assert element['transform']['matrix'] == [[2.0, 0], [0, 2.0]]
    assert len(element['values']) == superpixels.count
    bbox = np.array(element['user']['bbox']).reshape(-1, 4)
    assert bbox.shape == (superpixels.count, 4)
    assert np.allclose(bbox, superpixels.bboxes)
    assert bbox[:, 2].max() == 512  # base-slide pixels, not label pixels


def test_schema_valid(superpixels):
    from girder_large_image_annotation.models.annotation import AnnotationSchema

    categories = [{'label': 'default', 'fillColor': 'rgba(0, 0, 0, 0)', 'strokeColor': 'rgba(0, 0, 0, 1)'},
                  {'label': 'tumor', 'fillColor': 'rgba(255, 0, 0, 0.5)', 'strokeColor': '#ff0000'}]
    values = [i % 2 for i in range(superpixels.count)]
    annotation = pixelmap_annotation(superpixels, ITEM_ID, name='Superpixels', categories=categories,
                                     values=values, element_id='a' * 24, label='sp')
    jsonschema.validate(annotation, AnnotationSchema.annotationSchema)
    element = annotation['elements'][0]
    jsonschema.validate(element, AnnotationSchema.pixelmapSchema)


def test_bad_arguments(superpixels):
    with pytest.raises(ValueError, match='girder_id'):
        pixelmap_element(superpixels, 'not-an-id')
    with pytest.raises(ValueError, match='values'):
        pixelmap_element(superpixels, ITEM_ID, values=[0])
    with pytest.raises(ValueError, match='categories'):
        pixelmap_element(superpixels, ITEM_ID, values=[3] * superpixels.count)
    with pytest.raises(ValueError, match='fillColor'):
        pixelmap_element(superpixels, ITEM_ID, categories=[{'label': 'x'}])
