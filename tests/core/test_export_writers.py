"""The export writers and the import readers of the compute core, on small arrays."""
import json
import zipfile

import numpy as np
import pyarrow.parquet as pq
import tifffile
from pycocotools import mask as coco_mask

from histomics_label.core.export.coco import CocoWriter
from histomics_label.core.export.files import EmbeddingRows, file_entry
from histomics_label.core.export.geojson import GeoJSONZip
from histomics_label.core.export.masks import fill_mask, write_mask_tiff
from histomics_label.core.export.outlines import mask_polygons, trace_outlines
from histomics_label.core.export.parquet import SuperpixelTable
from histomics_label.core.features.store import write_features
from histomics_label.core.prediction_import import assign_features, sample_codes


def ring_with_island():
    """Superpixel 1: a ring around superpixel 2 (a hole), on background 0, plus a separate part."""
    labels = np.zeros((12, 14), dtype=np.int32)
    labels[1:9, 1:9] = 1
    labels[3:6, 3:6] = 2
    labels[10:12, 11:14] = 1
    return labels


def test_outlines_fill_back_to_exactly_the_superpixel_with_holes_and_parts(tmp_path):
    labels = ring_with_island()
    polygons = mask_polygons(labels == 1)
    assert len(polygons) == 2 and sorted(len(p) for p in polygons) == [1, 2]  # two parts, one with a hole
    boxes = np.array([[0, 0, 14, 12], [1, 1, 14, 12], [3, 3, 6, 6]], dtype=float)
    traced = {sp: (polys, count) for sp, polys, count in trace_outlines(
        lambda x0, y0, x1, y1: labels[y0:y1, x0:x1], [1, 2], boxes, 1.0, (14, 12), block=8)}
    assert traced[1][1] == (labels == 1).sum() and traced[2][1] == 9
    with CocoWriter(str(tmp_path / 'coco.json'), {}, [{'id': 1, 'width': 14, 'height': 12}], [{'id': 1, 'name': 'A'}]) as coco:
        coco.annotation(1, 1, traced[1][0], 1.0)
    annotation = json.load(open(str(tmp_path / 'coco.json')))['annotations'][0]
    rle = coco_mask.merge(coco_mask.frPyObjects(annotation['segmentation'], 12, 14))
    assert np.array_equal(coco_mask.decode(rle).astype(bool), labels == 1)  # the hole stays out
    assert annotation['bbox'] == [1, 1, 13, 11]


def test_geojson_zip_streams_parseable_collections(tmp_path):
    labels = ring_with_island()
    with GeoJSONZip(str(tmp_path / 'g.zip')) as archive:
        with archive.collection('a.geojson', {'name': 'a'}) as out:
            out.feature(mask_polygons(labels == 1), {'superpixel': 1})
            out.feature(mask_polygons(labels == 2), {'superpixel': 2})
        with archive.collection('b.geojson', {'name': 'b'}):
            pass
    with zipfile.ZipFile(str(tmp_path / 'g.zip')) as archive:
        a, b = (json.loads(archive.read(name)) for name in ('a.geojson', 'b.geojson'))
    assert [f['geometry']['type'] for f in a['features']] == ['MultiPolygon', 'Polygon']
    assert a['properties'] == {'name': 'a'} and b['features'] == []


def test_masks_sample_label_centres_and_keep_codes_in_every_level(tmp_path):
    labels = np.arange(600 * 520).reshape(600, 520) // 1000 % 7 - 1  # -1 is outside any superpixel
    codes = np.array([3, 0, 1, 2, 5, 4])
    level0 = np.zeros((300, 260), dtype=np.uint8)
    done = []
    fill_mask(level0, lambda x0, y0, x1, y1: labels[y0:y1, x0:x1], codes, (520, 600), 1.0, 2.0, done.append)
    assert np.array_equal(level0, np.append(codes, 0)[labels[1::2, 1::2]]) and sum(done) == 300
    write_mask_tiff(str(tmp_path / 'm.tiff'), level0, description='{"codes": {}}', mm_per_pixel=0.001)
    with tifffile.TiffFile(str(tmp_path / 'm.tiff')) as tif:
        assert [p.shape for p in tif.pages] == [(300, 260), (150, 130)]
        assert np.array_equal(tif.pages[1].asarray(), level0[::2, ::2])
    assert len(file_entry(str(tmp_path / 'm.tiff'), 'm.tiff')['sha256']) == 64


def test_the_table_writes_null_embeddings_for_a_slide_without_features(tmp_path):
    write_features(str(tmp_path / 'f.h5'), [2, 0, 1], np.arange(6, dtype=np.float32).reshape(3, 2), 'embedding')
    rows = EmbeddingRows(str(tmp_path / 'f.h5'))
    assert rows.rows([0, 1, 2]).tolist() == [[2, 3], [4, 5], [0, 1]]
    rows.close()
    with SuperpixelTable(str(tmp_path / 't.parquet'), embedding_dim=2) as table:
        table.write({'superpixel': [0, 1], 'embedding': None})
        table.write({'superpixel': [0], 'embedding': np.ones((1, 2), np.float32), 'label': ['A']})
    columns = pq.read_table(str(tmp_path / 't.parquet')).to_pydict()
    assert columns['embedding'] == [None, None, [1.0, 1.0]] and columns['label'] == [None, None, 'A']


def test_imports_read_categories_under_centroids():
    square = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]
    features = [{'geometry': {'type': 'Polygon', 'coordinates': [square, hole]},
                 'properties': {'classification': {'name': 'Tumor'}, 'certainty': 0.8}},
                {'geometry': {'type': 'Point', 'coordinates': [1, 1]}, 'properties': {'category': 'Fat'}},
                {'geometry': {'type': 'Polygon', 'coordinates': [[[8, 8], [20, 8], [20, 20], [8, 8]]]},
                 'properties': {'category': 'Stroma'}}]
    centroids = np.array([[2, 2], [5, 5], [9.5, 9], [30, 30]])
    columns, certainty, names, skipped = assign_features(features, centroids)
    assert names == ['Tumor', 'Stroma'] and skipped == 1
    assert columns.tolist() == [0, -1, 1, -1] and certainty[0] == np.float32(0.8) and np.isnan(certainty[2])
    image = np.zeros((50, 40), dtype=np.uint8)
    image[25:, :20] = 3
    tiles = [(0, 0, image[:32, :32]), (32, 0, image[:32, 32:]), (0, 32, image[32:, :32]), (32, 32, image[32:, 32:])]
    assert sample_codes(tiles, [[10, 90], [70, 10], [10, 10]], (40, 50), (80, 100)).tolist() == [3, 0, 0]

