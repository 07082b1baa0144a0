"""Pixelmap encoding and the streamed, pyramidal label TIFF read back with large_image."""
import json

import large_image
import numpy as np
import pytest

from histomics_label.core import label_image as li


def test_encoding_convention():
    labels = np.array([[0, 1, 127, 128, 70000, -1]])
    boundary = np.array([[False, True, False, True, True, True]])
    rgb = li.encode_labels(labels, boundary)
    rgb = rgb.astype(np.int64)
    value = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    rgb = rgb.astype(np.uint8)
    assert value.tolist() == [[0, 3, 254, 257, 140001, 0xFFFFFF]]
    back, bnd = li.decode_labels(rgb)
    assert back.tolist() == labels.tolist()
    assert bnd.tolist() == [[False, True, False, True, True, False]]


def test_tiff_round_trip_with_large_image(tmp_path):
    rng = np.random.default_rng(1)
    labels = (np.arange(700)[:, None] // 37 * 100 + np.arange(900)[None, :] // 41).astype(np.int64)
    labels[:50, :60] = -1
    labels[600:, 800:] = rng.integers(0, 5, (100, 100)) + 3000
    path = tmp_path / 'labels.tiff'
    li.write_label_tiff(path, labels, description=json.dumps({'x': 1}), mm_per_pixel=0.0005, block=256)
    source = large_image.open(str(path))
    assert source.name == 'tiff'
    meta = source.getMetadata()
    assert (meta['sizeX'], meta['sizeY'], meta['levels']) == (900, 700, 3)
    assert meta['tileWidth'] == 256 and meta['bandCount'] == 3
    back, boundary = li.read_label_image(path)
    assert (back == labels).all()
    assert (boundary == (li.boundary_mask(labels) & (labels >= 0))).all()
    # reduced levels hold exact label values (nearest-neighbour pyramid)
    rgb, _ = source.getRegion(scale={'magnification': meta['magnification'] / 4},
                              format=large_image.constants.TILE_FORMAT_NUMPY)
    assert (li.decode_labels(rgb)[0] == labels[::4, ::4]).all()
    region = li.read_label_image(path, region=dict(left=100, top=200, right=300, bottom=260))[0]
    assert (region == labels[200:260, 100:300]).all()
    assert li.label_tiff_description(path) == {'x': 1}


def test_writer_accepts_blocks_in_any_order_and_checks_completeness(tmp_path):
    labels = np.arange(600 * 520).reshape(520, 600) // 1000
    writer = li.LabelTiffWriter(tmp_path / 'a.tiff', 600, 520)
    for y0, x0 in [(512, 512), (0, 512), (512, 0), (0, 0)]:
        block = labels[y0:y0 + 512, x0:x0 + 512]
        writer.add_block(x0, y0, li.encode_labels(block))
    writer.close()
    assert (li.read_label_image(tmp_path / 'a.tiff')[0] == labels).all()
    incomplete = li.LabelTiffWriter(tmp_path / 'b.tiff', 600, 520)
    incomplete.add_block(0, 0, li.encode_labels(labels[:256, :256]))
    with pytest.raises(ValueError, match='incomplete'):
        incomplete.close()
    with pytest.raises(ValueError, match='multiple'):
        incomplete.add_block(10, 0, li.encode_labels(labels[:256, :256]))


def test_bad_inputs():
    with pytest.raises(ValueError):
        li.decode_labels(np.zeros((4, 4)))
    with pytest.raises(ValueError):
        li.LabelTiffWriter('/tmp/never.tiff', 0, 10)
    with pytest.raises(ValueError, match='superpixels'):
        li.write_label_tiff('/tmp/never.tiff', np.array([[li.MAX_SUPERPIXELS]]))
