"""Model quality: what the trainer measured per epoch, the learning curve and the stopping hint."""
from girder.api import access
from girder.api.rest import getCurrentUser
from girder.constants import AccessType, TokenScope
from girder.exceptions import ValidationException

from ..models.category import Category
from ..models.quality import EpochQuality
from ..models.study import RUN, Study
from .validation import OBJECT_ID, Description, autoDescribeRoute, object_id

COUNT = {'type': 'integer', 'minimum': 0, 'maximum': 10 ** 9}
QUALITY_BODY = {
    'type': 'object', 'required': ['categoryIds', 'confusion', 'labels', 'folds'], 'additionalProperties': False,
    'properties': {
        'categoryIds': {'type': 'array', 'items': OBJECT_ID, 'minItems': 2, 'maxItems': 1000, 'uniqueItems': True},
        'confusion': {'type': 'array', 'maxItems': 1000, 'items': {'type': 'array', 'maxItems': 1000,
                                                                   'items': COUNT}},
        'labels': COUNT, 'folds': {'type': 'integer', 'minimum': 2, 'maximum': 100}}}


class QualityEndpoints:
    def __init__(self, root):
        root.route('GET', ('project', ':id', 'quality'), self.quality)
        root.route('POST', ('project', ':id', 'epoch', ':epoch', 'quality'), self.record)

    @access.user
    @autoDescribeRoute(
        Description('How good the model is: the newest epoch\'s cross-validated accuracy, macro-F1 and confusion '
                    'matrix on the effective labels, the learning curve (metrics against the number of labels, one '
                    'point per epoch) and whether it has flattened (docs/api.md, "Model quality").')
        .projectParam(AccessType.READ)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def quality(self, project):
        Study().require_unblinded(project, getCurrentUser(), 'the model\'s quality (measured on everyone\'s labels)')
        return EpochQuality().summary(project)

    @access.user(scope=TokenScope.DATA_WRITE)  # the trainer, with its job's token
    @autoDescribeRoute(
        Description('Store the quality the trainer measured for an epoch: the out-of-fold confusion matrix over '
                    'the trainable categories (rows: label, columns: prediction); accuracy and macro-F1 are '
                    'derived from it.')
        .projectParam(AccessType.WRITE, capability=RUN)
        .intParam('epoch', 'The epoch number.', minimum=1, paramType='path')
        .jsonParam('body', 'JSON object: {"categoryIds": [...], "confusion": [[int]], "labels": int, "folds": int}.',
                   paramType='body', schema=QUALITY_BODY)
        .errorResponse('An epoch never reserved, unknown categories or a malformed matrix.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def record(self, project, epoch, body):
        known = {c['_id'] for c in Category().list(project)}
        category_ids = [object_id(c, 'categoryIds') for c in body['categoryIds']]
        if any(c not in known for c in category_ids):
            raise ValidationException('categoryIds must be categories of the project.', 'categoryIds')
        return EpochQuality().record(project, epoch, category_ids, body['confusion'], body['labels'],
                                     body['folds'])
