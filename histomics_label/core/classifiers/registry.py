"""Which class implements each (kind, backend) of classifier; building and loading them by name.

Model classes are imported by name only when one is built or loaded, so the frameworks they need load lazily
(and this module imports none of them).
"""
import importlib

from . import model_io

DEFAULT_BACKENDS = {'linear': 'torch', 'mlp': 'torch', 'cnn': 'torch', 'logistic': 'sklearn'}
REGISTRY = {
    ('linear', 'torch'): 'torch_models:LinearHead',
    ('mlp', 'torch'): 'torch_models:MLPHead',
    ('cnn', 'torch'): 'torch_models:PatchCNN',
    ('cnn', 'keras'): 'keras_models:KerasPatchCNN',
    ('logistic', 'sklearn'): 'sklearn_models:LogisticRegressionClassifier',
}


def classifier_class(kind, backend=None):
    """The class registered for ``kind`` and ``backend`` (default backend per kind)."""
    backend = backend or DEFAULT_BACKENDS.get(kind)
    if (kind, backend) not in REGISTRY:
        raise ValueError('unknown classifier kind/backend %r/%r; choose from %s'
                         % (kind, backend, sorted('%s/%s' % pair for pair in REGISTRY)))
    module, name = REGISTRY[(kind, backend)].split(':')
    return getattr(importlib.import_module('.' + module, __package__), name)


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
