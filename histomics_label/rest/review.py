"""``/histomics_label/project/{id}/review``: reviewer verdicts on labeled superpixels."""
from girder.api import access
from girder.api.rest import filtermodel, getCurrentUser
from girder.constants import AccessType, SortDir

from ..models.category import Category
from ..models.label import MAX_LABELS_PER_REQUEST
from ..models.review import VERDICTS, Review
from .common import slide_for
from .validation import (NULLABLE_OBJECT_ID, SUPERPIXEL, Description, autoDescribeRoute, object_id,
                         slide_batch_body)

REVIEWS_BODY = slide_batch_body(
    'reviews', ('superpixel', 'verdict'), {'superpixel': SUPERPIXEL, 'verdict': {'enum': list(VERDICTS)},
                                            'categoryId': NULLABLE_OBJECT_ID,
                                            'comment': {'type': 'string', 'maxLength': 2000}},
    MAX_LABELS_PER_REQUEST)


class ReviewEndpoints:
    def __init__(self, root):
        root.route('PUT', ('project', ':id', 'review'), self.write)
        root.route('GET', ('project', ':id', 'review'), self.find)

    @access.user
    @autoDescribeRoute(
        Description('Record your verdicts on superpixels of one slide: agree (with categoryId), correct to '
                    'categoryId, or flag. Nothing is written if any entry is invalid.')
        .projectParam(AccessType.WRITE)
        .jsonParam('body', 'JSON object: {"itemId": slide item id, "reviews": [{"superpixel": int, '
                   '"verdict": one of %s, "categoryId": id, "comment": text}]}.' % ', '.join(VERDICTS),
                   paramType='body', schema=REVIEWS_BODY)
        .errorResponse('Unknown slide, superpixel, verdict or category.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def write(self, project, body):
        slide = slide_for(project, object_id(body['itemId'], 'itemId'))
        written = Review().write(project, slide, getCurrentUser(), body['reviews'], Category().list(project))
        return {'written': written}

    @access.user
    @filtermodel(Review)
    @autoDescribeRoute(
        Description('Query reviews by slide, reviewer and verdict, paged on the server.')
        .projectParam(AccessType.READ)
        .idParam('itemId', 'Only this slide.', required=False)
        .idParam('reviewerId', 'Only this reviewer.', required=False)
        .param('verdict', 'Only this verdict.', required=False, enum=list(VERDICTS))
        .pagingParams(defaultSort='time', defaultSortDir=SortDir.DESCENDING, defaultLimit=500,
                      sortable=('time', 'superpixel', 'itemId', 'reviewerId', 'verdict'))
        .errorResponse('Bad id, verdict, paging or sort field.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def find(self, project, itemId, reviewerId, verdict, limit, offset, sort):
        query = {'projectId': project['_id']}
        for key, value in (('itemId', itemId), ('reviewerId', reviewerId), ('verdict', verdict)):
            if value is not None:
                query[key] = value
        return Review().find(query, limit=limit, offset=offset, sort=sort + [('_id', 1)])
