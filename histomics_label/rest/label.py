"""``/histomics_label/project/{id}/label``: bulk label writes, queries, history and effective labels."""
from girder.api import access
from girder.api.describe import Description, autoDescribeRoute
from girder.api.rest import getCurrentUser
from girder.constants import AccessType, SortDir
from girder.exceptions import ValidationException

from ..jobs.pipeline import maybe_retrain
from ..models.category import Category
from ..models.label import MAX_LABELS_PER_REQUEST, SOURCES, Label, LabelHistory
from ..models.review import slide_effective_labels
from ..models.superpixels import SuperpixelGeometry
from .common import object_id, project_for, slide_for

SORTABLE = ('updated', 'created', 'superpixel', 'itemId', 'userId', 'categoryId')


def _region(value):
    if value is None:
        return None
    try:
        region = [float(v) for v in value.split(',')]
    except ValueError:
        region = []
    if len(region) != 4 or region[0] > region[2] or region[1] > region[3]:
        raise ValidationException('region is "left,top,right,bottom" in base-slide pixels.', 'region')
    return region


class LabelEndpoints:
    def __init__(self, root):
        root.route('PUT', ('project', ':id', 'label'), self.write)
        root.route('GET', ('project', ':id', 'label'), self.find)
        root.route('GET', ('project', ':id', 'label', 'history'), self.history)
        root.route('GET', ('project', ':id', 'label', 'effective'), self.effective)

    @access.user
    @autoDescribeRoute(
        Description('Set or clear your labels on many superpixels of one slide in one atomic bulk upsert '
                    '(a paint stroke is one request). Nothing is written if any entry is invalid.')
        .param('id', 'The project id.', paramType='path')
        .jsonParam('body', 'JSON object: {"itemId": slide item id, "labels": [{"superpixel": int, '
                   '"categoryId": id or null to clear}] (at most %d), "source": one of %s (default '
                   'paint), "epoch": model epoch the labeler saw (optional)}.' % (
                       MAX_LABELS_PER_REQUEST, ', '.join(SOURCES)),
                   paramType='body', requireObject=True)
        .errorResponse('Unknown slide, superpixel or category, or a malformed body.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def write(self, id, body):
        project = project_for(id, AccessType.WRITE)
        slide = slide_for(project, body.get('itemId'))
        geometry = SuperpixelGeometry().geometry(slide)
        if geometry is None:
            raise ValidationException('Slide %s has no superpixels yet.' % slide['itemId'], 'itemId')
        epoch = body.get('epoch')
        if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0):
            raise ValidationException('epoch must be a non-negative integer.', 'epoch')
        user = getCurrentUser()
        written, removed = Label().write(
            project, slide, user, body.get('labels'), Category().list(project), geometry[0],
            source=body.get('source', 'paint'), epoch=epoch)
        job = maybe_retrain(project, user, written + removed)
        return {'written': written, 'removed': removed, 'retrainJobId': job['_id'] if job else None}

    @access.user
    @autoDescribeRoute(
        Description('Query labels by slide, user, category and region, paged and sorted on the server.')
        .param('id', 'The project id.', paramType='path')
        .param('itemId', 'Only this slide.', required=False)
        .param('userId', 'Only this labeler.', required=False)
        .jsonParam('categoryIds', 'JSON list of category ids.', required=False, requireArray=True)
        .param('region', 'left,top,right,bottom in base-slide pixels (superpixel centroids inside).',
               required=False)
        .pagingParams(defaultSort='updated', defaultSortDir=SortDir.DESCENDING, defaultLimit=500)
        .errorResponse('Bad region or sort field.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def find(self, id, itemId, userId, categoryIds, region, limit, offset, sort):
        project = project_for(id)
        if any(field not in SORTABLE for field, _ in sort):
            raise ValidationException('sort is one of %s.' % ', '.join(SORTABLE), 'sort')
        categories = [object_id(c, 'categoryIds') for c in categoryIds or []]
        query = Label().query(project, object_id(itemId, 'itemId'), object_id(userId, 'userId'), categories,
                              _region(region))
        return Label().find(query, limit=limit, offset=offset, sort=sort + [('_id', 1)],
                            fields={'x': False, 'y': False})

    @access.user
    @autoDescribeRoute(
        Description('History of label changes (who, when, source, epoch; categoryId null is a removal).')
        .param('id', 'The project id.', paramType='path')
        .param('itemId', 'Only this slide.', required=False)
        .param('superpixel', 'Only this superpixel (with itemId).', dataType='integer', required=False)
        .param('userId', 'Only this labeler.', required=False)
        .pagingParams(defaultSort='time', defaultSortDir=SortDir.DESCENDING, defaultLimit=500)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def history(self, id, itemId, superpixel, userId, limit, offset, sort):
        project = project_for(id)
        query = {'projectId': project['_id']}
        for key, value in (('itemId', itemId), ('userId', userId)):
            if value:
                query[key] = object_id(value, key)
        if superpixel is not None:
            query['superpixel'] = superpixel
        return LabelHistory().find(query, limit=limit, offset=offset, sort=sort + [('_id', 1)])

    @access.user
    @autoDescribeRoute(
        Description('Effective label per labeled superpixel of a slide: adjudicated > consensus > single '
                    '(docs/labels.md), with rater count and agreement.')
        .param('id', 'The project id.', paramType='path')
        .param('itemId', 'The slide.')
        .errorResponse('The item is not a slide of the project.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def effective(self, id, itemId):
        project = project_for(id)
        result = slide_effective_labels(project, slide_for(project, itemId)['itemId'])
        return [dict(entry, superpixel=superpixel) for superpixel, entry in sorted(result.items())]
