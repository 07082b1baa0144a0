"""scikit-learn logistic regression on embedding vectors (no dropout, so no MC samples)."""
import numpy as np

from .base import Classifier


class LogisticRegressionClassifier(Classifier):
    """Multinomial L2 logistic regression (lbfgs); ``C`` is the inverse regularisation strength.

    The fitted coefficients are kept as arrays, so a saved model loads and predicts without scikit-learn.
    """

    kind = 'logistic'
    backend = 'sklearn'
    supports_mc = False
    identity_trunk = True
    DEFAULTS = {'C': 1.0, 'max_iter': 200}

    def _init_model(self, input_shape, n_columns):
        self._weight = np.zeros((input_shape[0], n_columns))
        self._bias = np.zeros(n_columns)

    def _train(self, X, columns, sample_weight):
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=float(self.params['C']), max_iter=int(self.params['max_iter']),
                                   warm_start=True, random_state=self.seed)
        present = np.unique(columns)
        if self.params['warm_start'] and np.any(self._weight):
            model.coef_ = self._weight[:, present].T.copy()
            model.intercept_ = self._bias[present].copy()
        model.fit(X, columns, sample_weight=sample_weight)
        coef, intercept = model.coef_, model.intercept_
        if len(present) == 2:  # sklearn keeps one logit for binary problems: softmax([0, z]) == sigmoid(z)
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        self._weight = np.zeros_like(self._weight)
        self._bias = np.full(len(self._bias), -np.inf)  # columns without labels are never predicted
        self._weight[:, present] = coef.T
        self._bias[present] = intercept
        return int(np.max(model.n_iter_))

    def _features(self, X):
        return X

    def _head(self):
        return self._weight, self._bias

    def _get_arrays(self):
        return {'weight': self._weight, 'bias': self._bias}

    def _set_arrays(self, arrays):
        self._weight, self._bias = arrays['weight'], arrays['bias']
