"""Bring-your-own segmentations: label arrays, label TIFFs and polygons."""
import numpy as np
import pytest

from histomics_label.core import byo_segmentation as byo
from histomics_label.core.label_image import read_label_image, write_label_tiff


def test_label_array_compacted_with_background(tmp_path):
    labels = np.zeros((300, 400), dtype=np.int32)
    labels[10:60, 20:90] = 7
    labels[100:250, 100:300] = 42
    labels[260:, 350:] = 5
    result = byo.superpixels_from_labels(labels, output_path=tmp_path / 'l.tiff', scale=2.0, keep_labels=True)
    assert result.count == 3
    assert result.info['source_ids'].tolist() == [5, 7, 42]
    assert result.areas.tolist() == [40 * 50 * 4, 50 * 70 * 4, 150 * 200 * 4]
    assert result.bboxes[1].tolist() == [40, 20, 180, 120]
    assert np.allclose(result.centroids[2], [(200 + 0.5) * 2 - 1, (175 + 0.5) * 2 - 1])
    back, _ = read_label_image(tmp_path / 'l.tiff')
    expected = np.full(labels.shape, -1)
    for i, v in enumerate([5, 7, 42]):
        expected[labels == v] = i
    assert (back == expected).all()


def test_pixelmap_tiff_input_round_trip(tmp_path):
    labels = (np.arange(300)[:, None] // 50 * 10 + np.arange(500)[None, :] // 50).astype(np.int64)
    labels[:20] = -1
    write_label_tiff(tmp_path / 'in.tiff', labels)
    result = byo.superpixels_from_labels(str(tmp_path / 'in.tiff'), output_path=tmp_path / 'out.tiff',
                                         block=256)
    assert result.count == len(np.unique(labels[labels >= 0]))
    back, _ = read_label_image(tmp_path / 'out.tiff')
    assert ((back >= 0) == (labels >= 0)).all()
    assert (result.info['source_ids'][back[labels >= 0]] == labels[labels >= 0]).all()


def test_polygons_geojson_and_holes(tmp_path):
    square = [[10, 10], [110, 10], [110, 110], [10, 110], [10, 10]]
    hole = [[40, 40], [80, 40], [80, 80], [40, 80]]
    geo = {'type': 'FeatureCollection', 'features': [
        {'type': 'Feature', 'geometry': {'type': 'Polygon', 'coordinates': [square, hole]}},
        {'type': 'Feature', 'geometry': {'type': 'MultiPolygon', 'coordinates': [
            [[[200, 200], [260, 200], [260, 240], [200, 240]]],
            [[[300, 10], [300.4, 10], [300.4, 10.4]]]]}},  # too small to cover a pixel centre
    ]}
    result = byo.superpixels_from_polygons(geo, (400, 300), output_path=tmp_path / 'p.tiff',
                                           keep_labels=True, block=256)
    assert result.count == 2 and result.info['dropped'] == 1
    assert result.info['source_index'].tolist() == [0, 1]
    assert result.areas.tolist() == [100 * 100 - 40 * 40, 60 * 40]
    assert result.bboxes.tolist() == [[10, 10, 110, 110], [200, 200, 260, 240]]
    assert result.labels[60, 60] == -1 and result.labels[20, 20] == 0
    back, _ = read_label_image(tmp_path / 'p.tiff')
    assert (back == result.labels).all()


def test_polygons_at_lower_magnification_and_overlap():
    polys = [np.array([[0, 0], [200, 0], [200, 200], [0, 200]]), np.array([[100, 100], [300, 100],
                                                                        [300, 300], [100, 300]])]
    result = byo.superpixels_from_polygons(polys, (400, 400), scale=4.0, keep_labels=True)
    assert result.labels.shape == (100, 100)
    assert result.labels[30, 30] == 1  # later polygon wins where they overlap
    assert np.allclose(result.areas, [50 * 50 * 16 - 25 * 25 * 16, 50 * 50 * 16])


@pytest.mark.parametrize('bad, message', [
    ([[[0, 0], [1, 1]]], 'at least 3'),
    ([[[0, 0], [1, 1], [2, 2]]], 'zero area'),
    ([[[0, 0], [np.nan, 1], [2, 0]]], 'finite'),
    ([{'type': 'LineString', 'coordinates': [[0, 0], [1, 1]]}], 'unsupported'),
    (['abc'], 'expected'),
    ([], 'no polygons'),
])
def test_malformed_polygons(bad, message):
    with pytest.raises(ValueError, match=message):
        byo.superpixels_from_polygons(bad, (100, 100))


def test_bad_label_inputs():
    with pytest.raises(ValueError, match='2-D integers'):
        byo.superpixels_from_labels(np.zeros((4, 4), dtype=float))
    with pytest.raises(ValueError, match='no labels'):
        byo.superpixels_from_labels(np.zeros((4, 4), dtype=int))
