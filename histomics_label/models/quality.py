"""Model quality per training epoch: the cross-validated confusion matrix the trainer measured on the epoch's
labels, with accuracy and macro-F1 derived from it here (:mod:`..core.quality`), kept for every epoch so the
learning curve (metric against number of labels) and the stopping hint can be drawn from them.
"""
import datetime

import numpy as np
from girder.exceptions import ValidationException
from girder.models.model_base import Model

from ..core.quality import metrics_from_confusion, stopping_hint

CURVE_FIELDS = ('epoch', 'labels', 'accuracy', 'macroF1')
EXPOSED = ('epoch', 'labels', 'evaluated', 'folds', 'method', 'accuracy', 'macroF1', 'categoryIds', 'confusion',
           'created')


class EpochQuality(Model):
    def initialize(self):
        self.name = 'histomics_label_quality'
        self.ensureIndices([([('projectId', 1), ('epoch', 1)], {'unique': True})])

    def validate(self, doc):
        return doc

    def record(self, project, epoch, category_ids, confusion, labels, folds):
        """Store (or replace) epoch ``epoch``'s quality. ``confusion[i][j]``: labels of ``category_ids[i]``
        predicted ``category_ids[j]`` out of fold; 400 for an epoch never reserved, categories outside the
        project, or a confusion matrix that is not square over them or counts more than ``labels``."""
        if epoch > max(project.get('trainingEpoch') or 0, project.get('epoch') or 0):
            raise ValidationException('Epoch %d was never reserved in this project.' % epoch, 'epoch')
        matrix = np.asarray(confusion, dtype=np.int64) if confusion else np.zeros((0, 0), np.int64)
        if matrix.shape != (len(category_ids), len(category_ids)):
            raise ValidationException('confusion must be a %d x %d matrix (one row and column per category).' % (
                len(category_ids), len(category_ids)), 'confusion')
        if int(matrix.sum()) > labels:
            raise ValidationException('confusion counts %d labels, more than the %d labels.' % (
                matrix.sum(), labels), 'confusion')
        doc = {'projectId': project['_id'], 'epoch': epoch, 'labels': labels, 'evaluated': int(matrix.sum()),
               'folds': folds, 'method': 'cross-validation', 'categoryIds': list(category_ids),
               'confusion': matrix.tolist(), 'created': datetime.datetime.now(datetime.timezone.utc),
               **metrics_from_confusion(matrix)}
        self.collection.replace_one({'projectId': project['_id'], 'epoch': epoch}, doc, upsert=True)
        return self.findOne({'projectId': project['_id'], 'epoch': epoch})

    def summary(self, project):
        """The newest epoch's quality (``current``, or None), the learning curve over every epoch with a
        quality, and the stopping hint."""
        docs = list(self.find({'projectId': project['_id']}, sort=[('epoch', 1)]))
        curve = [{key: doc[key] for key in CURVE_FIELDS} for doc in docs]
        current = {key: docs[-1][key] for key in EXPOSED} if docs else None
        return {'epoch': project.get('epoch', 0), 'current': current, 'curve': curve, 'stop': stopping_hint(curve)}
