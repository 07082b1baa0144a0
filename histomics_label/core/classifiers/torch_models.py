"""PyTorch classifiers: linear and MLP heads on embedding vectors, a small CNN on image patches.

All run on the CPU with ``threads`` intra-op threads (default 1) while training and predicting.
"""
import abc
import contextlib

import numpy as np
import torch
from torch import nn

from .affine import normalised_affine
from .base import MinibatchClassifier

PREDICT_BATCH = 1024


class _ChannelsFirst(nn.Module):
    """NHWC (the project's patch layout) to NCHW (torch's)."""

    def forward(self, x):
        return x.permute(0, 3, 1, 2)


class TorchClassifier(MinibatchClassifier):
    """A torch network ``trunk -> dropout -> linear head``, trained with Adam."""

    backend = 'torch'
    COMMON_DEFAULTS = {**MinibatchClassifier.COMMON_DEFAULTS, 'threads': 1}

    @abc.abstractmethod
    def _build_trunk(self, input_shape):
        """Return ``(trunk module, number of trunk features)``."""

    @contextlib.contextmanager
    def _seeded(self, offset):
        """Run with torch's global generator seeded from the model seed, restoring it afterwards."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1_000_003 + offset)
            yield

    @contextlib.contextmanager
    def _threads(self):
        """Use ``threads`` intra-op threads meanwhile (None: leave torch's setting).

        Small models gain little from more threads and lose a lot when cores are contended; one thread
        also leaves the other cores to the server while retraining runs in the background.
        """
        previous = torch.get_num_threads()
        if self.params['threads']:
            torch.set_num_threads(int(self.params['threads']))
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _init_model(self, input_shape, n_columns):
        with self._seeded(0):
            trunk, n_features = self._build_trunk(input_shape)
            self._net = nn.Sequential(trunk, nn.Dropout(float(self.params['dropout'])),
                                      nn.Linear(n_features, n_columns))

    @contextlib.contextmanager
    def _training_session(self):
        self._optimizer = torch.optim.Adam(self._net.parameters(), lr=float(self.params['learning_rate']),
                                           weight_decay=float(self.params['weight_decay']), fused=True)
        self._net.train()
        try:
            with self._seeded(1 + self.epoch), self._threads():
                yield
        finally:
            self._net.eval()
            self._optimizer = None

    def _step(self, X, columns, sample_weight):
        logits = self._net(torch.from_numpy(X))
        losses = nn.functional.cross_entropy(logits, torch.from_numpy(columns.astype(np.int64)), reduction='none')
        loss = (losses * torch.from_numpy(sample_weight)).mean()
        self._optimizer.zero_grad()
        loss.backward()
        self._optimizer.step()

    def _features(self, X):
        self._net.eval()
        trunk = self._net[0]
        with torch.no_grad():  # threads: set by the prediction session
            return np.concatenate([trunk(torch.from_numpy(np.ascontiguousarray(X[start:start + PREDICT_BATCH]))).numpy()
                                   for start in range(0, len(X), PREDICT_BATCH)])

    @contextlib.contextmanager
    def prediction_session(self, parallel=False):
        with super().prediction_session(parallel), self._threads():
            yield

    def _head(self):
        head = self._net[2]
        return head.weight.detach().numpy().T.astype(np.float64), head.bias.detach().numpy().astype(np.float64)

    def _get_arrays(self):
        return {key: value.detach().numpy().copy() for key, value in self._net.state_dict().items()}

    def _set_arrays(self, arrays):
        self._net.load_state_dict({key: torch.from_numpy(np.array(value)) for key, value in arrays.items()})
        self._net.eval()


class LinearHead(TorchClassifier):
    """Softmax regression on embedding vectors; dropout acts on the input features."""

    kind = 'linear'
    identity_trunk = True
    DEFAULTS = {'epochs': 5, 'min_steps': 100, 'batch_size': 256, 'learning_rate': 3e-3, 'weight_decay': 1e-4,
                'dropout': 0.2}

    def _build_trunk(self, input_shape):
        return nn.Identity(), input_shape[0]


class MLPHead(TorchClassifier):
    """One hidden ReLU layer on embedding vectors, dropout before the output layer."""

    kind = 'mlp'
    DEFAULTS = {'epochs': 5, 'min_steps': 100, 'batch_size': 256, 'learning_rate': 1e-3, 'weight_decay': 1e-4,
                'dropout': 0.5, 'hidden': 128}

    def _build_trunk(self, input_shape):
        hidden = int(self.params['hidden'])
        return nn.Sequential(nn.Linear(input_shape[0], hidden), nn.ReLU()), hidden

    def _features_raw(self, X, offset=None):
        layer = self._net[0][0]
        hidden = normalised_affine(X, self._mean, self._std, layer.weight.detach().numpy().T,
                                   layer.bias.detach().numpy(), offset)
        return np.maximum(hidden, 0, out=hidden)


class PatchCNN(TorchClassifier):
    """Three conv blocks (``width``, 2x, 4x filters) and global average pooling on ``(n, h, w, c)`` patches."""

    kind = 'cnn'
    feature_kind = 'patch'
    input_ndim = 4
    DEFAULTS = {'epochs': 10, 'min_steps': 200, 'batch_size': 32, 'learning_rate': 2e-3, 'weight_decay': 1e-4,
                'dropout': 0.3, 'width': 16}

    def _build_trunk(self, input_shape):
        width = int(self.params['width'])
        channels = [input_shape[2], width, 2 * width, 4 * width]
        layers = [_ChannelsFirst()]
        for block, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:])):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
            if block < 2:
                layers.append(nn.MaxPool2d(2))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        return nn.Sequential(*layers), channels[-1]
