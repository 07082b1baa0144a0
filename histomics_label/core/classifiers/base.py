"""What every classifier shares: the category <-> column mapping, class weights, input normalisation,
the minibatch loop, MC-dropout prediction through a linear head, and saving with metadata.

Each model is a *trunk* (features, deterministic at prediction time) followed by dropout and a linear
*head*. Prediction runs the trunk once per block of rows; MC dropout draws ``mc_samples`` dropout masks over
the trunk features with a generator seeded from the model seed, each mask shared by every item of its sample
(one draw of the network, as BatchBALD's joint needs; each item's predictive distribution is the same as
with per-item masks). The masked heads stack into one ``(features, mc_samples x columns)`` matrix, so all
samples cost one product, and an item's prediction depends only on that item, the model and the seed.
"""
import abc
import contextlib
import datetime

import numpy as np

from .. import bfloat16
from . import model_io, registry
from .affine import normalised_affine, single_threaded_torch

CLASS_WEIGHT_MODES = ('balanced', None)
#: rows predicted at once: bounds the temporaries of a prediction over a million superpixels
PREDICT_BLOCK = 16384


class CategoryMapping:
    """Map between the project's category list and the model's output columns.

    Column ``j`` of the model predicts category ``columns[j]``; excluded categories have no column
    (``column_of[c] == -1``), so they are never trained on and never predicted.
    """

    def __init__(self, categories, excluded=()):
        self.categories = [str(name) for name in categories]
        if len(set(self.categories)) != len(self.categories):
            raise ValueError('category names must be unique: %r' % (self.categories,))
        self.excluded = sorted({self._index(entry) for entry in excluded})
        self.columns = np.array([c for c in range(len(self.categories)) if c not in self.excluded], dtype=np.intp)
        if len(self.columns) < 2:
            raise ValueError('need at least two categories that are not excluded from training')
        self.column_of = np.full(len(self.categories), -1, dtype=np.intp)
        self.column_of[self.columns] = np.arange(len(self.columns))

    def _index(self, entry):
        if isinstance(entry, str):
            if entry not in self.categories:
                raise ValueError('excluded category %r is not in %r' % (entry, self.categories))
            return self.categories.index(entry)
        if isinstance(entry, (int, np.integer)) and not isinstance(entry, bool) and 0 <= entry < len(self.categories):
            return int(entry)
        raise ValueError('excluded entry %r is neither a category name nor an index' % (entry,))

    @property
    def n_columns(self):
        return len(self.columns)

    def labels_to_columns(self, labels):
        """Return ``(columns, keep)``: the output column of each label and which labels are trainable."""
        labels = np.asarray(labels)
        if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or labels.size == 0):
            raise ValueError('labels must be a 1-d array of category indices')
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.categories)):
            raise ValueError('labels must be category indices in [0, %d)' % len(self.categories))
        columns = self.column_of[labels.astype(np.intp)]
        return columns, columns >= 0

    def expand(self, probs):
        """Spread column probabilities over all project categories (excluded categories get 0)."""
        probs = np.asarray(probs)
        full = np.zeros(probs.shape[:-1] + (len(self.categories),), dtype=probs.dtype)
        full[..., self.columns] = probs
        return full

    def to_dict(self):
        return {'categories': self.categories, 'excluded': self.excluded, 'columns': self.columns.tolist()}


def class_weights(columns, n_columns, mode='balanced'):
    """Per-column loss weights: ``n / (n_present_classes * count)`` when balanced, 0 for absent columns."""
    if mode not in CLASS_WEIGHT_MODES:
        raise ValueError('class_weight must be one of %r' % (CLASS_WEIGHT_MODES,))
    counts = np.bincount(columns, minlength=n_columns).astype(np.float64)
    if mode is None:
        return (counts > 0).astype(np.float64)
    weights = np.zeros(n_columns)
    present = counts > 0
    weights[present] = len(columns) / (present.sum() * counts[present])
    return weights


def softmax(logits):
    """Softmax over the last axis, in a new array of ``logits``' dtype."""
    result = logits - logits.max(axis=-1, keepdims=True)
    np.exp(result, out=result)
    result /= result.sum(axis=-1, keepdims=True)
    return result


def sample_softmax(logits, samples):
    """Softmax of each sample's columns of ``logits`` ``(rows, samples x columns)``, as ``(rows, samples,
    columns)``. Shifted by each row's maximum over all samples and normalised with a matrix product: numpy
    reduces a short last axis slowly, and an epoch does this for millions of rows x samples. Rows where a
    sample's logits all fall ~80 below that maximum (its exponentials would underflow) are redone per sample."""
    rows, width = logits.shape
    columns = width // samples
    result = logits - logits.max(axis=1, keepdims=True)
    np.exp(result, out=result)
    sums = result @ np.repeat(np.eye(samples, dtype=result.dtype), columns, axis=0)
    result = result.reshape(rows, samples, columns)
    with np.errstate(divide='ignore', invalid='ignore'):  # 0 / 0 only in the weak rows, redone below
        result /= sums[:, :, None]
    weak = np.flatnonzero(sums.min(axis=1) < 1e-30)
    if len(weak):
        result[weak] = softmax(logits[weak].reshape(len(weak), samples, columns))
    return result


class Classifier(abc.ABC):
    """Base class: ``fit(X, y)``, ``predict_proba(X, mc_samples=None)``, ``predict(X)``, ``save``, ``load``.

    ``y`` holds indices into ``categories``; labels of ``excluded`` categories are dropped before training.
    Probabilities are over model columns; ``classes_`` gives the category index of each column and
    ``mapping.expand`` spreads them over all categories.
    """

    kind = None
    backend = None
    feature_kind = 'embedding'
    input_ndim = 2
    supports_mc = True
    #: the head acts on the normalised input itself (no trunk): prediction folds normalisation into it
    identity_trunk = False
    COMMON_DEFAULTS = {'seed': 0, 'class_weight': 'balanced', 'warm_start': False, 'feature_kind': None}
    DEFAULTS = {}

    def __init__(self, categories=None, excluded=(), **params):
        unknown = set(params) - set(self.COMMON_DEFAULTS) - set(self.DEFAULTS)
        if unknown:
            raise ValueError('unknown parameters for %s: %s' % (type(self).__name__, sorted(unknown)))
        self.params = {**self.COMMON_DEFAULTS, **self.DEFAULTS, **params}
        self.params['feature_kind'] = self.params['feature_kind'] or self.feature_kind
        if self.params['class_weight'] not in CLASS_WEIGHT_MODES:
            raise ValueError('class_weight must be one of %r' % (CLASS_WEIGHT_MODES,))
        self._excluded = tuple(excluded)
        self.mapping = CategoryMapping(categories, excluded) if categories is not None else None
        self.input_shape = None
        self.epoch = 0
        self.training_size = 0
        self.label_counts = None
        self._mean = self._std = None

    @property
    def seed(self):
        return int(self.params['seed'])

    @property
    def classes_(self):
        self._require_fitted()
        return self.mapping.columns

    @property
    def is_fitted(self):
        return self.input_shape is not None

    def _require_fitted(self):
        if not self.is_fitted:
            raise ValueError('the classifier has not been fitted')

    def _check_X(self, X, keep_half=False, check_finite=True):
        """``X`` as float32 (uint8 patches scaled to [0, 1]); float16 and bfloat16 stay as they are with
        ``keep_half``."""
        X = np.asarray(X)
        if X.ndim != self.input_ndim:
            raise ValueError('%s expects %d-d input, got shape %r' % (type(self).__name__, self.input_ndim, X.shape))
        half = bfloat16.is_sixteen_bit(X)
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool or half):
            raise ValueError('input must be numeric')
        if X.dtype == np.uint8:
            X = X.astype(np.float32) / 255
        elif not (keep_half and half):
            X = X.astype(np.float32, copy=False)
        for start in range(0, len(X) if check_finite else 0, PREDICT_BLOCK):  # no n x d boolean temporary
            if not np.all(np.isfinite(X[start:start + PREDICT_BLOCK])):
                raise ValueError('input contains NaN or infinite values')
        return X

    def _stat_axes(self, X):
        """Axes averaged for normalisation: all but the last (features, or channels of patches)."""
        return tuple(range(X.ndim - 1))

    def _normalise(self, X):
        return (X - self._mean) / self._std

    def fit(self, X, y):
        """Train on items ``X`` with category labels ``y``; returns self."""
        X = self._check_X(X)
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError('X has %d items but y has %d labels' % (len(X), len(y)))
        if self.mapping is None:
            if y.size == 0 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
                raise ValueError('without categories, y must be non-negative integer labels')
            self.mapping = CategoryMapping([str(c) for c in range(int(y.max()) + 1)], self._excluded)
        columns, keep = self.mapping.labels_to_columns(y)
        X, columns = X[keep], columns[keep]
        if len(np.unique(columns)) < 2:
            raise ValueError('training needs labels of at least two categories that are not excluded')
        warm = self.params['warm_start'] and self.is_fitted and X.shape[1:] == self.input_shape
        if not warm:
            self._mean = X.mean(axis=self._stat_axes(X)).astype(np.float32)
            std = X.std(axis=self._stat_axes(X))
            self._std = np.where(std > 1e-6, std, 1).astype(np.float32)
            self.input_shape = tuple(int(s) for s in X.shape[1:])
            self.epoch = 0
            self._init_model(self.input_shape, self.mapping.n_columns)
        weights = class_weights(columns, self.mapping.n_columns, self.params['class_weight'])
        self.epoch += self._train(self._normalise(X), columns, weights[columns])
        self.training_size = int(len(columns))
        self.label_counts = np.bincount(columns, minlength=self.mapping.n_columns).tolist()
        return self

    def predict_proba(self, X, mc_samples=None, dtype=np.float64):
        """Class probabilities over model columns: ``(n, n_columns)``, or ``(mc_samples, n, n_columns)``
        when ``mc_samples`` is a positive integer (MC dropout; needs a model with dropout). float16 input is
        used as it is, a block at a time; ``dtype`` (float64 or float32) is that of the result."""
        shape = (len(X), self.mapping.n_columns) if self.mapping is not None else (len(X), 0)
        out = None
        for start, probs in self.iter_proba(X, mc_samples, dtype):
            if out is None:
                out = np.empty((mc_samples,) + shape if mc_samples else shape, dtype=dtype)
            if mc_samples:
                out[:, start:start + len(probs)] = probs.transpose(1, 0, 2)
            else:
                out[start:start + len(probs)] = probs
        if out is None:  # no rows
            out = np.empty((mc_samples,) + shape if mc_samples else shape, dtype=dtype)
        return out

    def iter_proba(self, X, mc_samples=None, dtype=np.float64):
        """``(first row, probabilities)`` of ``X`` block by block (``PREDICT_BLOCK`` rows): ``(rows, columns)``,
        or item-major ``(rows, mc_samples, columns)`` with MC samples, as computed (no transposed copy)."""
        heads = self.prediction_heads(mc_samples)
        X = self.check_input(X)
        return self._blocks(X, heads, dtype)

    def _blocks(self, X, heads, dtype):
        with self.prediction_session():
            for start in range(0, len(X), PREDICT_BLOCK):
                yield start, self.block_proba(X[start:start + PREDICT_BLOCK], heads, dtype, start)

    def check_input(self, X):
        """Rows to predict, checked against the fitted model (float16 kept; finiteness is checked on the
        first product, which NaN or infinite input never leaves finite)."""
        self._require_fitted()
        X = self._check_X(X, keep_half=True, check_finite=False)
        if X.shape[1:] != self.input_shape:
            raise ValueError('input items have shape %r, the model expects %r' % (X.shape[1:], self.input_shape))
        return X

    def prediction_heads(self, mc_samples=None):
        """``(weight, bias, mc_samples)`` to predict with: the head, or the ``mc_samples`` masked heads side by
        side (:meth:`_mc_heads`)."""
        self._require_fitted()
        mc_samples = self._mc_count(mc_samples)
        weight, bias = (np.asarray(value, dtype=np.float32) for value in self._head())
        if mc_samples:
            weight, bias = self._mc_heads(weight, bias, mc_samples)
        return weight, bias, mc_samples

    def block_proba(self, X, heads, dtype=np.float32, start=0, offset=None):
        """Probabilities of a block of checked rows (:meth:`check_input`; the items are ``X + offset`` when
        an offset is given) under ``heads`` (:meth:`prediction_heads`): ``(rows, columns)`` or ``(rows,
        mc_samples, columns)``. Thread-safe: blocks may be predicted in parallel inside one
        :meth:`prediction_session`."""
        weight, bias, mc_samples = heads
        try:
            logits = self._logits(X, weight, bias, offset).astype(dtype, copy=False)
        except ValueError as exc:  # which rows: of the whole input, not of this block
            raise ValueError('input contains NaN or infinite values (in rows %d-%d)' % (
                start, start + len(X) - 1)) from exc
        return sample_softmax(logits, mc_samples) if mc_samples else softmax(logits)

    def _mc_count(self, mc_samples):
        """``mc_samples`` as an int (0: no sampling); ValueError if invalid or the model has no dropout."""
        if not mc_samples:
            return 0
        if isinstance(mc_samples, bool) or not isinstance(mc_samples, (int, np.integer)) or mc_samples < 0:
            raise ValueError('mc_samples must be a non-negative integer')
        if not self.supports_mc or float(self.params.get('dropout', 0)) <= 0:
            raise ValueError('%s has no dropout, so it cannot draw MC samples' % type(self).__name__)
        return int(mc_samples)

    def _mc_heads(self, weight, bias, mc_samples):
        """The head under each of ``mc_samples`` dropout masks, side by side: ``(features, mc x columns)``.

        Masks compare 16-bit random integers with the rate (quantised to 1/65536), from a generator seeded
        by the model seed: the same samples every time."""
        threshold = int(round(float(self.params['dropout']) * 65536))
        keep = np.random.default_rng([self.seed, 0x6D63]).integers(
            0, 65536, (mc_samples, len(weight)), dtype=np.uint16) >= threshold
        heads = keep[:, :, None] * weight[None] / np.float32(1 - threshold / 65536)
        return heads.transpose(1, 0, 2).reshape(len(weight), -1), np.tile(bias, mc_samples)

    def _logits(self, X, weight, bias, offset=None):
        """Raw rows ``X + offset`` (float32, or float16) through the trunk and the given head(s): float32
        logits."""
        if self.identity_trunk:
            return normalised_affine(X, self._mean, self._std, weight, bias, offset)
        return self._features_raw(X, offset) @ weight + bias

    def _features_raw(self, X, offset=None):
        """Trunk output for raw (not normalised) rows; models whose first layer is linear skip the copy
        (and check the input through :func:`.affine.normalised_affine`)."""
        X = X.astype(np.float32, copy=False) if offset is None else X.astype(np.float32) + offset
        if not np.all(np.isfinite(X)):
            raise ValueError('input contains NaN or infinite values')
        return self._features(self._normalise(X)).astype(np.float32, copy=False)

    @contextlib.contextmanager
    def prediction_session(self, parallel=False):
        """Context entered around prediction: a framework's thread count; with ``parallel`` (blocks predicted
        by several threads at once) the BLAS library and torch run one thread per block."""
        if not parallel:
            yield
            return
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            threadpool_limits = None
        with threadpool_limits(1, user_api='blas') if threadpool_limits else contextlib.nullcontext(), \
                single_threaded_torch():
            yield

    def predict(self, X):
        """Predicted category index (into the project's category list) of each item."""
        return self.mapping.columns[np.argmax(self.predict_proba(X), axis=1)]

    def metadata(self):
        self._require_fitted()
        return {
            'kind': self.kind,
            'backend': self.backend,
            **self.mapping.to_dict(),
            'feature_kind': self.params['feature_kind'],
            'epoch': self.epoch,
            'training_size': self.training_size,
            'label_counts': self.label_counts,
            'seed': self.seed,
            'input_shape': list(self.input_shape),
            'params': self.params,
            'saved': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        }

    def save(self, path):
        """Write weights and metadata to one ``.npz`` file (no pickle); returns the metadata."""
        arrays = {'input_mean': self._mean, 'input_std': self._std}
        arrays.update({'model/' + key: value for key, value in self._get_arrays().items()})
        return model_io.write(path, self.metadata(), arrays)

    @classmethod
    def load(cls, path):
        """Load a classifier saved by ``save``; it predicts exactly as the saved one did."""
        model = registry.load_classifier(path)
        if not isinstance(model, cls):
            raise ValueError('%s holds a %s model, not %s' % (path, type(model).__name__, cls.__name__))
        return model

    def _restore(self, metadata, arrays):
        self.input_shape = tuple(metadata['input_shape'])
        self.epoch = metadata['epoch']
        self.training_size = metadata['training_size']
        self.label_counts = metadata['label_counts']
        self._mean, self._std = arrays.pop('input_mean'), arrays.pop('input_std')
        self._init_model(self.input_shape, self.mapping.n_columns)
        self._set_arrays({key[len('model/'):]: value for key, value in arrays.items()})

    # Backend hooks.
    @abc.abstractmethod
    def _init_model(self, input_shape, n_columns):
        """Create a fresh, seeded model."""

    @abc.abstractmethod
    def _train(self, X, columns, sample_weight):
        """Train on normalised input; return the number of epochs (or iterations) run."""

    @abc.abstractmethod
    def _features(self, X):
        """Trunk output ``(n, n_features)`` for normalised input, dropout off."""

    @abc.abstractmethod
    def _head(self):
        """The linear head as float64 ``(weight (n_features, n_columns), bias (n_columns,))``."""

    @abc.abstractmethod
    def _get_arrays(self):
        """Model state as a dict of numpy arrays."""

    @abc.abstractmethod
    def _set_arrays(self, arrays):
        """Restore the state returned by ``_get_arrays`` into a model built by ``_init_model``."""


class MinibatchClassifier(Classifier):
    """A network trained by shuffled minibatches, with dropout before its head.

    A fit runs ``epochs`` epochs of ``batch_size`` minibatches, or more epochs if that is needed to reach
    ``min_steps`` optimiser steps (so a few dozen labels still get enough updates while thousands stay fast).
    """

    def _train(self, X, columns, sample_weight):
        rng = np.random.default_rng([self.seed, self.epoch])
        batch_size = int(self.params['batch_size'])
        steps_per_epoch = -(-len(X) // batch_size)
        epochs = max(int(self.params['epochs']), -(-int(self.params['min_steps']) // steps_per_epoch))
        with self._training_session():
            for _ in range(epochs):
                order = rng.permutation(len(X))
                for start in range(0, len(X), batch_size):
                    batch = order[start:start + batch_size]
                    self._step(X[batch], columns[batch], sample_weight[batch].astype(np.float32))
        return epochs

    def _training_session(self):
        """Context entered around training (e.g. to seed a framework's global random state)."""
        return contextlib.nullcontext()

    @abc.abstractmethod
    def _step(self, X, columns, sample_weight):
        """One optimiser step on a minibatch, loss = mean of ``sample_weight * cross_entropy``."""
