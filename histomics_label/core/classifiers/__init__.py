"""Classifiers for superpixel labels, behind one small sklearn-like interface.

``make_classifier(kind, backend=None, categories=..., excluded=..., **params)`` builds one of:

=========  =======  ================================================================
kind       backend  model
=========  =======  ================================================================
linear     torch    linear head on embedding vectors (input dropout for MC)
mlp        torch    one-hidden-layer head on embedding vectors
cnn        torch    small CNN on image patches ``(n, height, width, channels)``
cnn        keras    the same CNN in Keras 3 (TensorFlow backend unless KERAS_BACKEND says otherwise)
logistic   sklearn  scikit-learn logistic regression on embedding vectors (no MC dropout)
=========  =======  ================================================================

Frameworks are imported only when a model that needs them is built or loaded.
"""
import importlib

from . import model_io
from .base import CategoryMapping, Classifier, class_weights

DEFAULT_BACKENDS = {'linear': 'torch', 'mlp': 'torch', 'cnn': 'torch', 'logistic': 'sklearn'}
REGISTRY = {
    ('linear', 'torch'): 'torch_models:LinearHead',
    ('mlp', 'torch'): 'torch_models:MLPHead',
    ('cnn', 'torch'): 'torch_models:PatchCNN',
    ('cnn', 'keras'): 'keras_models:KerasPatchCNN',
    ('logistic', 'sklearn'): 'sklearn_models:LogisticRegressionClassifier',
}

__all__ = ['CategoryMapping', 'Classifier', 'class_weights', 'classifier_class', 'load_classifier',
           'make_classifier', 'DEFAULT_BACKENDS', 'REGISTRY']


def classifier_class(kind, backend=None):
    """The class registered for ``kind`` and ``backend`` (default backend per kind)."""
    backend = backend or DEFAULT_BACKENDS.get(kind)
    if (kind, backend) not in REGISTRY:
        raise ValueError('unknown classifier kind/backend %r/%r; choose from %s'
                         % (kind, backend, sorted('%s/%s' % pair for pair in REGISTRY)))
    module, name = REGISTRY[(kind, backend)].split(':')
    return getattr(importlib.import_module('.' + module, __name__), name)


def make_classifier(kind, backend=None, **params):
    """Build an unfitted classifier, e.g. ``make_classifier('mlp', categories=names, excluded=['default'])``."""
    return classifier_class(kind, backend)(**params)


def load_classifier(path):
    """Load any classifier written by ``Classifier.save``."""
    metadata, arrays = model_io.read(path)
    model = classifier_class(metadata['kind'], metadata['backend'])(
        categories=metadata['categories'], excluded=metadata['excluded'], **metadata['params'])
    model._restore(metadata, arrays)
    return model
