"""``/histomics_label/project/{id}/review``: reviewer verdicts on labeled superpixels."""
from girder.api import access
from girder.api.rest import filtermodel, getCurrentUser
from girder.constants import AccessType, SortDir

from ..models.category import Category
from ..models.label import MAX_LABELS_PER_REQUEST
from ..models.review import VERDICTS, Review
from ..models.study import REVIEW, Study
from ..services.review_queue import AGREEMENT, ISSUES, REVIEWED, SORTS, review_queue
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
        root.route('GET', ('project', ':id', 'review', 'queue'), self.queue)

    @access.user
    @autoDescribeRoute(
        Description('Record your verdicts on superpixels of one slide: agree (with categoryId), correct to '
                    'categoryId, or flag. Nothing is written if any entry is invalid.')
        .projectParam(AccessType.WRITE, capability=REVIEW)
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
        reviewerId = Study().own_only(project, getCurrentUser(), reviewerId, 'reviewerId')
        query = {'projectId': project['_id']}
        for key, value in (('itemId', itemId), ('reviewerId', reviewerId), ('verdict', verdict)):
            if value is not None:
                query[key] = value
        return Review().find(query, limit=limit, offset=offset, sort=sort + [('_id', 1)])

    @access.user
    @autoDescribeRoute(
        Description('The review grid: labeled superpixels with each rater\'s label, the verdicts, the effective '
                    'label and the current prediction, filtered, sorted and paged on the server.')
        .projectParam(AccessType.READ)
        .idParam('itemId', 'Only this slide.', required=False)
        .idParam('categoryId', 'Only superpixels whose effective label is this category.', required=False)
        .idParam('labelerId', 'Only superpixels this user labeled.', required=False)
        .idParam('reviewerId', 'Only superpixels this user reviewed.', required=False)
        .idParam('predictedId', 'Only superpixels the current model predicts as this category.', required=False)
        .param('agreement', 'all; agree: the raters agree; disagree: they do not.', required=False,
               default='all', enum=list(AGREEMENT))
        .param('reviewed', 'any, yes (has a verdict) or no.', required=False, default='any', enum=list(REVIEWED))
        .param('issue', 'The adjudication queue: any (rows with an issue), disagreement (the raters disagree), '
               'model (a prediction at least the study\'s confidentAt disagrees with the effective label: a '
               'likely label error), flagged; all (default) keeps every row. Adjudicated rows have no issue.',
               required=False, default='all', enum=list(ISSUES))
        .param('sort', 'disputed (disputed and flagged first, then lowest agreement), recent, uncertain '
               '(least certain prediction first), confidence (most confident prediction first: likely label '
               'errors) or slide.', required=False, default='disputed', enum=list(SORTS))
        .intParam('limit', 'Page size (0 for all).', minimum=0, maximum=1000, required=False, default=50)
        .intParam('offset', 'Rows to skip.', minimum=0, required=False, default=0)
        .errorResponse('Bad id, filter, sort or paging.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def queue(self, project, itemId, categoryId, labelerId, reviewerId, predictedId, agreement, reviewed, issue,
              sort, limit, offset):
        Study().require_unblinded(project, getCurrentUser(), 'the review queue (everyone\'s labels and the model\'s '
                                  'predictions)')
        filters = {'itemId': itemId, 'categoryId': categoryId, 'labelerId': labelerId, 'reviewerId': reviewerId,
                   'predictedId': predictedId, 'agreement': agreement, 'reviewed': reviewed, 'issue': issue}
        return review_queue(project, filters, sort, limit, offset, Study().get(project)['confidentAt'])
