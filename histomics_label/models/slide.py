"""A slide of a project: which large-image item, its stable index in the project, and how far it got
(segmented into how many superpixels, featurized). Superpixel geometry lives in :mod:`.superpixels`."""
import datetime

from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.item import Item
from girder.models.model_base import Model
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .states import StageStatus

STAGES = ('segmentation', 'features')


class ProjectSlide(Model):
    def initialize(self):
        self.name = 'histomics_label_slide'
        self.ensureIndices([([('projectId', 1), ('itemId', 1)], {'unique': True}),
                            ([('projectId', 1), ('index', 1)], {'unique': True}),
                            'itemId'])  # every item deletion looks its slides up
        self.exposeFields(AccessType.READ, ('_id', 'projectId', 'itemId', 'name', 'index', 'superpixelCount',
                                            'epoch', 'created', 'segmentation', 'features', 'annotations'))

    def validate(self, doc):
        return doc

    def list(self, project):
        return list(self.find({'projectId': project['_id']}, sort=[('index', 1)]))

    def sync(self, project, folder):
        """Add every large-image item of the project folder that is not a slide of the project yet.

        Indices are never handed out twice, not even the index of a removed slide (``project`` as loaded
        in this request lists those in ``removedSlides``): labels, history and exports still name it."""
        known = {s['itemId'] for s in self.find({'projectId': project['_id']}, fields=['itemId'])}
        items = Item().find({'folderId': folder['_id'], 'largeImage.fileId': {'$exists': True}},
                            sort=[('name', 1), ('_id', 1)])
        added, index = [], self._next_index(project)
        for item in items:
            if item['_id'] in known or item['largeImage'].get('expected'):
                continue
            while True:
                try:
                    added.append(self.save({
                        'projectId': project['_id'], 'itemId': item['_id'], 'name': item['name'], 'index': index,
                        'superpixelCount': None, 'epoch': None,
                        'created': datetime.datetime.now(datetime.timezone.utc),
                        'segmentation': {'status': StageStatus.PENDING},
                        'features': {'status': StageStatus.PENDING}}))
                    index += 1
                    break
                except DuplicateKeyError:  # a concurrent sync took the item or the index
                    if self.for_item(project, item['_id']) is not None:
                        break
                    index = self._next_index(project)
        return added

    def _next_index(self, project):
        last = self.findOne({'projectId': project['_id']}, sort=[('index', -1)])
        return max([last['index'] if last else -1] + [r['index'] for r in project.get('removedSlides') or ()]) + 1

    def filter(self, slide, user=None, additionalKeys=None):
        """The exposed fields, with ``annotations`` (kind -> HistomicsUI annotation id) always present."""
        result = super().filter(slide, user, additionalKeys)
        result.setdefault('annotations', {})
        return result

    def for_item(self, project, item_id):
        return self.findOne({'projectId': project['_id'], 'itemId': item_id})

    def set_stage(self, slide, stage, status, job_id=None, slide_fields=None, **fields):
        """Move one stage to ``status`` with ``fields`` (jobId, error, outputs) in one atomic update, if the
        stage's current status may move there (:class:`.states.StageStatus`) and, with ``job_id``, if the stage
        is recorded as run by that job. ``slide_fields`` are set on the slide in the same update.

        :returns: the updated slide, or None when the transition was refused (nothing was written)."""
        if stage not in STAGES:
            raise ValidationException('Unknown stage %r; one of %s.' % (stage, ', '.join(STAGES)), 'stage')
        query = {'_id': slide['_id'], '%s.status' % stage: {'$in': StageStatus.sources(status)}}
        if job_id is not None:
            query['%s.jobId' % stage] = job_id
        update = dict(slide_fields or {})
        update.update({'%s.%s' % (stage, key): value for key, value in dict(fields, status=status).items()})
        return self.collection.find_one_and_update(query, {'$set': update}, return_document=ReturnDocument.AFTER)

    def move_stage(self, slide, stage, status, **kwargs):
        """:meth:`set_stage` for a request: a refused transition is a 400 naming the stage's current status."""
        updated = self.set_stage(slide, stage, status, **kwargs)
        if updated is None:
            raise self.refusal(slide, stage, status)
        return updated

    def refusal(self, slide, stage, status):
        """The ValidationException for a refused move of ``stage`` to ``status`` (read from the stored slide)."""
        current = self.load(slide['_id'])
        if current is None:
            return ValidationException('Slide %s is no longer in the project.' % slide['name'], 'itemId')
        state = current[stage]
        message = 'The %s of slide %s is %s; it cannot become %s' % (stage, slide['name'], state['status'], status)
        if state['status'] == StageStatus.DONE:
            message += ': a finished stage takes no second report (recompute it to replace its outputs)'
        elif state['status'] == StageStatus.RUNNING:
            message += ': its job %s is still running (cancel it first)' % state.get('jobId')
        return ValidationException(message + '.', 'itemId')
