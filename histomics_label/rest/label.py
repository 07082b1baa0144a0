"""``/histomics_label/project/{id}/label``: bulk label writes, queries, history and effective labels."""
from girder.api import access
from girder.api.rest import filtermodel, getCurrentUser
from girder.constants import AccessType, SortDir
from girder.exceptions import ValidationException

from ..jobs.pipeline import maybe_retrain
from ..models.category import Category
from ..models.guardrails import Guardrails
from ..models.label import MAX_LABELS_PER_REQUEST, SOURCES, Label, LabelHistory
from ..models.review import slide_effective_labels
from ..models.slide import ProjectSlide
from ..models.study import LABEL, Study
from ..models.superpixels import SuperpixelGeometry
from .common import slide_for
from .validation import (ID_LIST, NULLABLE_OBJECT_ID, SUPERPIXEL, Description, autoDescribeRoute, object_id,
                         slide_batch_body)

SORTABLE = ('updated', 'created', 'superpixel', 'itemId', 'userId', 'categoryId')
LABELS_BODY = slide_batch_body(
    'labels', ('superpixel', 'categoryId'), {'superpixel': SUPERPIXEL, 'categoryId': NULLABLE_OBJECT_ID},
    MAX_LABELS_PER_REQUEST, source={'enum': list(SOURCES)}, epoch={'type': ['integer', 'null'], 'minimum': 0})


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
        root.route('POST', ('project', ':id', 'label', 'undo'), self.undo)
        root.route('GET', ('project', ':id', 'label', 'counts'), self.counts)

    @access.user
    @autoDescribeRoute(
        Description('Set or clear your labels on many superpixels of one slide in one atomic bulk upsert '
                    '(a paint stroke is one request). Nothing is written if any entry is invalid.')
        .projectParam(AccessType.WRITE, capability=LABEL)
        .jsonParam('body', 'JSON object: {"itemId": slide item id, "labels": [{"superpixel": int, '
                   '"categoryId": id or null to clear}] (1 to %d), "source": one of %s (default '
                   'paint), "epoch": model epoch the labeler saw (optional)}.' % (
                       MAX_LABELS_PER_REQUEST, ', '.join(SOURCES)),
                   paramType='body', schema=LABELS_BODY)
        .errorResponse('Unknown slide, superpixel or category, or a malformed body.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def write(self, project, body):
        slide = slide_for(project, object_id(body['itemId'], 'itemId'))
        geometry = SuperpixelGeometry().geometry(slide)
        if geometry is None:
            raise ValidationException('Slide %s has no superpixels yet.' % slide['itemId'], 'itemId')
        user, categories, source = getCurrentUser(), Category().list(project), body.get('source', 'paint')
        written, removed, write_id = Label().write(
            project, slide, user, body['labels'], categories, geometry[0], source=source, epoch=body.get('epoch'))
        Guardrails().record(project, slide, user, body['labels'], categories, source, body.get('epoch'), write_id)
        runner = Study().job_user(project, user)  # in a study, retraining runs as someone who may run jobs
        job = maybe_retrain(project, runner, written + removed) if runner else None
        return {'written': written, 'removed': removed, 'writeId': write_id,
                'retrainJobId': job['_id'] if job else None}

    @access.user
    @filtermodel(Label)
    @autoDescribeRoute(
        Description('Query labels by slide, user, category and region, paged and sorted on the server.')
        .projectParam(AccessType.READ)
        .idParam('itemId', 'Only this slide.', required=False)
        .idParam('userId', 'Only this labeler.', required=False)
        .jsonParam('categoryIds', 'JSON list of category ids.', required=False, schema=ID_LIST)
        .param('region', 'left,top,right,bottom in base-slide pixels (superpixel centroids inside).',
               required=False)
        .pagingParams(defaultSort='updated', defaultSortDir=SortDir.DESCENDING, defaultLimit=500,
                      sortable=SORTABLE)
        .errorResponse('Bad id, region, paging or sort field.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def find(self, project, itemId, userId, categoryIds, region, limit, offset, sort):
        userId = Study().own_only(project, getCurrentUser(), userId)
        categories = [object_id(c, 'categoryIds') for c in categoryIds or []]
        query = Label().query(project, itemId, userId, categories, _region(region))
        return Label().find(query, limit=limit, offset=offset, sort=sort + [('_id', 1)],
                            fields={'x': False, 'y': False})

    @access.user
    @filtermodel(LabelHistory)
    @autoDescribeRoute(
        Description('History of label changes (who, when, source, epoch; categoryId null is a removal).')
        .projectParam(AccessType.READ)
        .idParam('itemId', 'Only this slide.', required=False)
        .intParam('superpixel', 'Only this superpixel (with itemId).', minimum=0, required=False)
        .idParam('userId', 'Only this labeler.', required=False)
        .pagingParams(defaultSort='time', defaultSortDir=SortDir.DESCENDING, defaultLimit=500,
                      sortable=('time', 'superpixel', 'itemId', 'userId'))
        .errorResponse('Bad id, superpixel, paging or sort field.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def history(self, project, itemId, superpixel, userId, limit, offset, sort):
        userId = Study().own_only(project, getCurrentUser(), userId)
        query = {'projectId': project['_id']}
        for key, value in (('itemId', itemId), ('userId', userId), ('superpixel', superpixel)):
            if value is not None:
                query[key] = value
        return LabelHistory().find(query, limit=limit, offset=offset, sort=sort + [('_id', 1)])

    @access.user
    @autoDescribeRoute(
        Description('Effective label per labeled superpixel of a slide: adjudicated > consensus > single '
                    '(docs/labels.md), with rater count and agreement.')
        .projectParam(AccessType.READ)
        .idParam('itemId', 'The slide.')
        .errorResponse('The item is not a slide of the project.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def effective(self, project, itemId):
        Study().require_unblinded(project, getCurrentUser(), 'effective labels (everyone\'s labels combined)')
        result = slide_effective_labels(project, slide_for(project, itemId)['itemId'])
        return [dict(entry, superpixel=superpixel) for superpixel, entry in sorted(result.items())]

    @access.user
    @autoDescribeRoute(
        Description('Undo your newest label write in the project that is not undone yet (Ctrl-Z: one paint '
                    'stroke, click or card): its superpixels get back the categories they had before. Call '
                    'again to undo the write before it. The undo is itself recorded in the history.')
        .projectParam(AccessType.WRITE, capability=LABEL)
        .errorResponse('There is nothing left to undo.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def undo(self, project):
        slides = {slide['itemId']: slide for slide in ProjectSlide().list(project)}
        undone = Label().undo(project, slides, getCurrentUser(), Category().list(project),
                              SuperpixelGeometry().geometry)
        if undone is None:
            raise ValidationException('You have no label write left to undo in this project.')
        return undone

    @access.user
    @autoDescribeRoute(
        Description('How many labels each category has (after merges), everyone\'s and yours.')
        .projectParam(AccessType.READ)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def counts(self, project):
        resolve = Category().resolve(Category().list(project))
        counts = Label().counts(project, getCurrentUser(), resolve)
        result = {'categories': {str(key): value for key, value in counts.items()},
                  'total': {who: sum(c[who] for c in counts.values()) for who in ('mine', 'everyone')}}
        if Study().blinded(project, getCurrentUser()):  # others' counts are hidden from blinded raters
            for entry in list(result['categories'].values()) + [result['total']]:
                entry['everyone'] = None
            result['categories'] = {key: value for key, value in result['categories'].items() if value['mine']}
        return result
