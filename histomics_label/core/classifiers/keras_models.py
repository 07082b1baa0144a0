"""Keras 3 patch CNN (TensorFlow backend unless ``KERAS_BACKEND`` is already set).

Keras is imported on first use only, so torch-only users never load TensorFlow.
"""
import os

import numpy as np

from .base import MinibatchClassifier

PREDICT_BATCH = 256


def _keras():
    os.environ.setdefault('KERAS_BACKEND', 'tensorflow')
    import keras

    return keras


class KerasPatchCNN(MinibatchClassifier):
    """The torch ``PatchCNN`` architecture in Keras: three conv blocks, global average pooling, dropout, dense.

    Every layer takes a seed derived from the model seed, and minibatches are drawn by the shared loop, so
    the same data and seed give the same weights.
    """

    kind = 'cnn'
    backend = 'keras'
    feature_kind = 'patch'
    input_ndim = 4
    DEFAULTS = {'epochs': 10, 'min_steps': 200, 'batch_size': 32, 'learning_rate': 2e-3, 'dropout': 0.3,
                'width': 16}

    def _init_model(self, input_shape, n_columns):
        keras = _keras()
        layers, seeds = keras.layers, iter(range(self.seed * 1000, self.seed * 1000 + 100))
        width = int(self.params['width'])
        inputs = keras.Input(shape=input_shape)
        x = inputs
        for block, filters in enumerate((width, 2 * width, 4 * width)):
            x = layers.Conv2D(filters, 3, padding='same', activation='relu',
                              kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))(x)
            if block < 2:
                x = layers.MaxPooling2D(2)(x)
        features = layers.GlobalAveragePooling2D()(x)
        dropped = layers.Dropout(float(self.params['dropout']), seed=next(seeds))(features)
        self._dense = layers.Dense(n_columns, kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))
        self._model = keras.Model(inputs, self._dense(dropped))
        self._trunk = keras.Model(inputs, features)
        self._model.compile(optimizer=keras.optimizers.Adam(float(self.params['learning_rate'])),
                            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)

    def _step(self, X, columns, sample_weight):
        self._model.train_on_batch(X, columns.astype(np.int32), sample_weight=sample_weight)

    def _features(self, X):
        to_numpy = _keras().ops.convert_to_numpy  # eager calls: no retracing for each new batch shape
        return np.concatenate([to_numpy(self._trunk(X[start:start + PREDICT_BATCH], training=False))
                               for start in range(0, len(X), PREDICT_BATCH)])

    def _head(self):
        kernel, bias = self._dense.get_weights()
        return kernel.astype(np.float64), bias.astype(np.float64)

    def _get_arrays(self):
        return {'w%03d' % index: value for index, value in enumerate(self._model.get_weights())}

    def _set_arrays(self, arrays):
        self._model.set_weights([arrays[key] for key in sorted(arrays)])
