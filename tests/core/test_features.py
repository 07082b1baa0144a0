"""Features: patch positions and masking, backbone embeddings, HDF5 storage, clear errors."""
import glob
import os

import large_image
import numpy as np
import pytest
from PIL import Image

from histomics_label.core.features.backbones import get_backbone
from histomics_label.core.features.extract import extract_features
from histomics_label.core.features.patches import iter_patches
from histomics_label.core.features.store import read_features, write_features
from histomics_label.core.label_image import write_label_tiff
from histomics_label.core.slide_reader import SlideReader

DATA = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data')
SLIDE = os.path.join(DATA, 'slides', 'CMU-1-Small-Region.svs')


@pytest.fixture(scope='module')
def backbone():
    return get_backbone('efficientnet_lite0', threads=2)


def test_patches_are_the_slide_pixels_around_each_centroid():
    reader = SlideReader(SLIDE)
    centroids = np.array([[100.5, 200.2], [1500, 2500], [2210, 5], [700, 700]])
    got = {}
    for indices, patches in iter_patches(reader, centroids, 32, block=1024):
        got.update(zip(indices.tolist(), patches))
    source = large_image.open(SLIDE)
    for index, (x, y) in enumerate(centroids.astype(int)):
        # (large_image reads negative coordinates from the far edge, so clip the reference read explicitly)
        left, top = max(0, x - 16), max(0, y - 16)
        right, bottom = min(source.sizeX, x + 16), min(source.sizeY, y + 16)
        region, _ = source.getRegion(region={'left': left, 'top': top, 'right': right, 'bottom': bottom},
                                     format=large_image.constants.TILE_FORMAT_NUMPY)
        expected = np.zeros((32, 32, 3), dtype=np.uint8)  # past the slide edge: zero padding
        ox, oy = left - (x - 16), top - (y - 16)
        expected[oy:oy + region.shape[0], ox:ox + region.shape[1]] = region[..., :3]
        assert np.array_equal(got[index], expected), index


def test_masking_keeps_only_the_superpixel(tmp_path):
    image = np.random.default_rng(0).integers(0, 200, (64, 64, 3), dtype=np.uint8)
    labels = np.zeros((64, 64), dtype=np.int64)
    labels[:, 32:] = 1
    path = str(tmp_path / 'labels.tiff')
    write_label_tiff(path, labels)
    reader = SlideReader(image)
    (indices, patches), = list(iter_patches(reader, np.array([[30.0, 32.0], [40.0, 32.0]]), 16,
                                            label_path=path, fill=(255, 0, 255)))
    first = patches[list(indices).index(0)]
    assert np.array_equal(first[:, :10], image[24:40, 22:32])      # columns 22-31 are superpixel 0
    assert (first[:, 10:] == (255, 0, 255)).all()                   # columns 32-37 belong to superpixel 1


def test_embeddings_are_deterministic_and_separate_tissue_classes(backbone):
    files = sorted(glob.glob(os.path.join(DATA, 'crc32', '*.png')))
    patches = np.stack([np.asarray(Image.open(f).convert('RGB')) for f in files])
    classes = np.array([os.path.basename(f).split('-')[0] for f in files])
    vectors = backbone.embed(patches)
    assert vectors.shape == (32, 1280) and vectors.dtype == np.float32
    assert np.array_equal(vectors[:4], backbone.embed(patches[:4]))
    # leave-one-out nearest class centroid on normalised vectors: far above chance (1/8)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    correct = 0
    for i in range(len(unit)):
        keep = np.arange(len(unit)) != i
        names = sorted(set(classes))
        centres = np.stack([unit[keep & (classes == c)].mean(axis=0) for c in names])
        correct += names[int(np.argmax(centres @ unit[i]))] == classes[i]
    assert correct / len(unit) >= 0.5, correct  # measured 18-19 of 32


def test_extract_and_store_round_trip(tmp_path, backbone):
    centroids = np.array([[500, 500], [1000, 1500], [1800, 2500]], dtype=float)
    path = str(tmp_path / 'features.h5')
    seen = []
    values = extract_features(SLIDE, centroids, path, patch_size=48, batch_size=2,
                              progress=lambda done, total: seen.append((done, total)))
    ids, stored, attrs = read_features(path)
    assert list(ids) == [0, 1, 2] and np.array_equal(stored, values) and stored.shape == (3, 1280)
    assert attrs['kind'] == 'embedding' and attrs['backbone'] == 'efficientnet_lite0'
    assert attrs['patch_size'] == 48 and attrs['dim'] == 1280 and seen[-1] == (3, 3)
    patches_path = str(tmp_path / 'patches.h5')
    patches = extract_features(SLIDE, centroids, patches_path, kind='patches', patch_size=32)
    ids, stored, attrs = read_features(patches_path)
    assert stored.shape == (3, 32, 32, 3) and stored.dtype == np.uint8 and np.array_equal(stored, patches)


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='/no/such/uni.bin'):
        get_backbone('uni', weights_path='/no/such/uni.bin')
    with pytest.raises(ValueError, match='needs a local weights file'):
        get_backbone('uni')
    with pytest.raises(ValueError, match='Unknown backbone'):
        get_backbone('resnet-from-the-internet')
    with pytest.raises(ValueError, match='magnification'):
        extract_features(SLIDE, np.array([[10.0, 10.0]]), str(tmp_path / 'x.h5'), kind='patches',
                         magnification=40)
    with pytest.raises(ValueError, match='no superpixels'):
        extract_features(SLIDE, np.zeros((0, 2)), str(tmp_path / 'x.h5'), kind='patches')
    with pytest.raises(ValueError, match='ids for'):
        write_features(str(tmp_path / 'y.h5'), [0, 1], np.zeros((3, 4)), 'embedding')
    (tmp_path / 'z.h5').write_bytes(b'')
    with pytest.raises(OSError):
        read_features(str(tmp_path / 'z.h5'))
