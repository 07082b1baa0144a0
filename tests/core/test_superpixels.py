"""Tiled SLIC superpixels: ids, connectivity, seams, tissue masks, magnification and bad inputs."""
import numpy as np
import pytest
import skimage.data
from skimage import measure
from skimage.segmentation import slic

from histomics_label.core import superpixels as sp
from histomics_label.core.slide_reader import SlideReader
from histomics_label.core.superpixel_set import LabelSink


@pytest.fixture(scope='module')
def ihc():
    return skimage.data.immunohistochemistry()  # 512 x 512 RGB


@pytest.fixture(scope='module')
def untiled(ihc):
    return sp.compute_superpixels(ihc, radius=16, tile_size=1024, keep_labels=True)


@pytest.fixture(scope='module')
def tiled(ihc):
    return sp.compute_superpixels(ihc, radius=16, tile_size=256, keep_labels=True)


def assert_one_component_per_id(labels):
    ids = np.unique(labels[labels >= 0])
    components = measure.label(labels, background=-1, connectivity=1)
    assert components.max() == len(ids), 'some superpixel is split into several pieces'
    assert (ids == np.arange(len(ids))).all(), 'ids must be 0..n-1'


def test_every_pixel_labelled_unique_connected_ids(tiled, untiled):
    for result in (tiled, untiled):
        labels = result.labels
        assert (labels >= 0).all()
        assert_one_component_per_id(labels)
        assert result.count == labels.max() + 1
    # a 512x512 image at radius 16 has a 32x32 seed grid
    assert 0.8 * 1024 <= tiled.count <= 1.1 * 1024
    assert abs(tiled.count - untiled.count) <= 0.05 * untiled.count


def test_tiled_labels_equal_untiled_for_the_same_centres(ihc):
    """The label pass is a pure function of pixels and centres: any tiling gives identical labels."""
    reader = SlideReader(ihc)
    centres = sp._pass_centres(reader, None, 16, 1, 10.0, 1.0, 10, 1024)
    centres, cpy, cpx = sp._finalise_centres(centres, reader.width, reader.height, None)
    results = []
    for tile in (256, 1024):
        sink = LabelSink(len(centres), reader.width, reader.height, 1.0, (512, 512), keep_labels=True)
        sp._pass_labels(reader, None, centres, cpy, cpx, 16, 10.0, 1.0, tile, sink)
        results.append(sink.finish().labels)
    assert (results[0] == results[1]).all()


def test_seam_metric_tiled_close_to_untiled_and_far_below_naive(ihc, tiled, untiled):
    tile = 128
    tiled_small = sp.compute_superpixels(ihc, radius=16, tile_size=tile, keep_labels=True)
    share_tiled, line_share = sp.seam_share(tiled_small.labels, tile)
    share_untiled, _ = sp.seam_share(untiled.labels, tile)
    # naive tiler: independent SLIC per tile, ids offset per tile
    naive = np.zeros(ihc.shape[:2], dtype=np.int64)
    offset = 0
    for y in range(0, 512, tile):
        for x in range(0, 512, tile):
            seg = slic(ihc[y:y + tile, x:x + tile], n_segments=(tile // 16) ** 2, compactness=10, start_label=0)
            naive[y:y + tile, x:x + tile] = seg + offset
            offset += seg.max() + 1
    share_naive, _ = sp.seam_share(naive, tile)
    assert share_tiled <= 1.3 * share_untiled + 0.005
    assert share_naive > 2.5 * share_tiled
    assert share_tiled < 1.5 * line_share


def test_superpixel_size_follows_radius(ihc):
    result = sp.compute_superpixels(ihc, radius=32, keep_labels=True)
    assert 0.7 * 32 ** 2 <= result.pixel_counts.mean() <= 1.3 * 32 ** 2


def test_geometry_matches_labels(tiled):
    labels = tiled.labels
    for i in (0, tiled.count // 2, tiled.count - 1):
        ys, xs = np.nonzero(labels == i)
        assert tiled.areas[i] == len(xs) == tiled.pixel_counts[i]
        assert np.allclose(tiled.centroids[i], [xs.mean() + 0.5, ys.mean() + 0.5])
        assert list(tiled.bboxes[i]) == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def test_tissue_mask_excludes_background(ihc):
    mask = np.zeros((64, 64), dtype=bool)  # coarse mask, 8 image pixels per mask pixel
    mask[8:40, 16:56] = True
    result = sp.compute_superpixels(ihc, radius=16, tile_size=256, tissue_mask=mask, keep_labels=True)
    labels = result.labels
    tissue = np.repeat(np.repeat(mask, 8, axis=0), 8, axis=1)
    assert (labels[~tissue] == -1).all()
    assert (labels[tissue] >= 0).mean() > 0.99
    assert_one_component_per_id(labels)
    assert 0.7 * tissue.sum() / 256 <= result.count <= 1.3 * tissue.sum() / 256


def test_empty_tissue_raises(ihc):
    with pytest.raises(ValueError, match='empty'):
        sp.compute_superpixels(ihc, radius=16, tissue_mask=np.zeros((10, 10), dtype=bool))


def test_magnification(ihc):
    with pytest.raises(ValueError, match='above the slide'):
        sp.compute_superpixels(ihc, radius=16, magnification=40, native_magnification=20)
    half = sp.compute_superpixels(ihc, radius=16, magnification=10, native_magnification=20,
                                  keep_labels=True)
    assert half.labels.shape == (256, 256)
    assert half.scale == 2.0
    # base-slide coordinates: boxes span the full 512 x 512 image
    assert half.bboxes[:, 2].max() == 512 and half.bboxes[:, 3].max() == 512
    assert abs(half.areas.sum() - 512 * 512) < 1e-6


def test_bad_parameters(ihc):
    with pytest.raises(ValueError, match='radius'):
        sp.compute_superpixels(ihc, radius=1)
    with pytest.raises(ValueError, match='compactness'):
        sp.compute_superpixels(ihc, radius=16, compactness=0)
    with pytest.raises(ValueError, match='image array'):
        sp.compute_superpixels(np.zeros((10, 10)), radius=4)


def test_slide_through_large_image_to_label_tiff(tmp_path):
    """The real slide at 5x (555 x 741) through large_image, written as a pixelmap TIFF and read back."""
    import os

    import large_image

    from histomics_label.core.label_image import label_tiff_description, read_label_image

    slide = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data', 'slides',
                         'CMU-1-Small-Region.svs')
    if not os.path.exists(slide):
        pytest.skip('shared slide not available')
    out = tmp_path / 'sp.tiff'
    result = sp.compute_superpixels(slide, output_path=out, magnification=5, radius=25, tile_size=256,
                                    keep_labels=True)
    assert (result.width, result.height, result.scale) == (555, 741, 4.0)
    source = large_image.open(str(out))
    assert source.name == 'tiff' and source.getMetadata()['sizeX'] == 555
    back, boundary = read_label_image(out)
    assert (back == result.labels).all()
    assert_one_component_per_id(back)
    assert boundary.any() and not boundary[back < 0].any()
    assert label_tiff_description(out)['superpixelCount'] == result.count
    assert result.bboxes[:, 2].max() <= 2220 and result.bboxes[:, 3].max() <= 2967
    with pytest.raises(ValueError, match='above the slide'):
        sp.compute_superpixels(slide, magnification=40, radius=25)
