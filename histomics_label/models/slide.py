"""A slide of a project: which large-image item, its stable index in the project, and how far it got
(segmented into how many superpixels, featurized). Superpixel geometry lives in :mod:`.superpixels`."""
import datetime

from girder.models.item import Item
from girder.models.model_base import Model

STAGES = ('segmentation', 'features')


class ProjectSlide(Model):
    def initialize(self):
        self.name = 'histomics_label_slide'
        self.ensureIndices([([('projectId', 1), ('itemId', 1)], {'unique': True}),
                            ([('projectId', 1), ('index', 1)], {'unique': True})])

    def validate(self, doc):
        return doc

    def list(self, project):
        return list(self.find({'projectId': project['_id']}, sort=[('index', 1)]))

    def sync(self, project, folder):
        """Add every large-image item of the project folder that is not a slide of the project yet."""
        known = {s['itemId'] for s in self.find({'projectId': project['_id']}, fields=['itemId'])}
        last = self.findOne({'projectId': project['_id']}, sort=[('index', -1)])
        index = last['index'] + 1 if last else 0
        added = []
        items = Item().find({'folderId': folder['_id'], 'largeImage.fileId': {'$exists': True}},
                            sort=[('name', 1), ('_id', 1)])
        for item in items:
            if item['_id'] in known or item['largeImage'].get('expected'):
                continue
            added.append(self.save({
                'projectId': project['_id'], 'itemId': item['_id'], 'name': item['name'], 'index': index,
                'superpixelCount': None, 'epoch': None, 'created': datetime.datetime.now(datetime.timezone.utc),
                'segmentation': {'status': 'pending'}, 'features': {'status': 'pending'}}))
            index += 1
        return added

    def for_item(self, project, item_id):
        return self.findOne({'projectId': project['_id'], 'itemId': item_id})

    def set_stage(self, slide, stage, **fields):
        """Record progress of one stage (status, jobId, error, outputs) atomically."""
        assert stage in STAGES
        update = {'%s.%s' % (stage, key): value for key, value in fields.items()}
        self.update({'_id': slide['_id']}, {'$set': update})
        return self.load(slide['_id'])
