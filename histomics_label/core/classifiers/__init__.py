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
from .base import CategoryMapping, Classifier, class_weights
from .registry import DEFAULT_BACKENDS, REGISTRY, classifier_class, load_classifier, make_classifier

__all__ = ['CategoryMapping', 'Classifier', 'class_weights', 'classifier_class', 'load_classifier',
           'make_classifier', 'DEFAULT_BACKENDS', 'REGISTRY']
