"""``/histomics_label/project/{id}/review``: reviewer verdicts on labeled superpixels."""
from girder.api import access
from girder.api.describe import Description, autoDescribeRoute
from girder.api.rest import getCurrentUser
from girder.constants import AccessType, SortDir

from ..models.category import Category
from ..models.review import VERDICTS, Review
from .common import object_id, project_for, slide_for


class ReviewEndpoints:
    def __init__(self, root):
        root.route('PUT', ('project', ':id', 'review'), self.write)
        root.route('GET', ('project', ':id', 'review'), self.find)

    @access.user
    @autoDescribeRoute(
        Description('Record your verdicts on superpixels of one slide: agree (with categoryId), correct to '
                    'categoryId, or flag. Nothing is written if any entry is invalid.')
        .param('id', 'The project id.', paramType='path')
        .jsonParam('body', 'JSON object: {"itemId": slide item id, "reviews": [{"superpixel": int, '
                   '"verdict": one of %s, "categoryId": id, "comment": text}]}.' % ', '.join(VERDICTS),
                   paramType='body', requireObject=True)
        .errorResponse('Unknown slide, superpixel, verdict or category.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def write(self, id, body):
        project = project_for(id, AccessType.WRITE)
        slide = slide_for(project, body.get('itemId'))
        written = Review().write(project, slide, getCurrentUser(), body.get('reviews'),
                                 Category().list(project))
        return {'written': written}

    @access.user
    @autoDescribeRoute(
        Description('Query reviews by slide, reviewer and verdict, paged on the server.')
        .param('id', 'The project id.', paramType='path')
        .param('itemId', 'Only this slide.', required=False)
        .param('reviewerId', 'Only this reviewer.', required=False)
        .param('verdict', 'Only this verdict.', required=False, enum=list(VERDICTS))
        .pagingParams(defaultSort='time', defaultSortDir=SortDir.DESCENDING, defaultLimit=500)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def find(self, id, itemId, reviewerId, verdict, limit, offset, sort):
        project = project_for(id)
        query = {'projectId': project['_id']}
        for key, value in (('itemId', itemId), ('reviewerId', reviewerId)):
            if value:
                query[key] = object_id(value, key)
        if verdict:
            query['verdict'] = verdict
        return Review().find(query, limit=limit, offset=offset, sort=sort + [('_id', 1)])
