"""Labels: one small document per (project, slide, superpixel, user), written by atomic bulk upsert.

Concurrent labelers never touch each other's documents, and a paint stroke of hundreds of superpixels is
one bulk write. Every change is also appended to the label history (who, when, source, epoch, the write it
belonged to and the category it replaced), which is what makes a labeler's writes undoable, newest first.
"""
import datetime

from bson import ObjectId

from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.model_base import Model
from pymongo import DeleteOne, UpdateOne
from pymongo.errors import BulkWriteError

from .agreement import Agreement
from .category import usable_categories
from .label_stats import LabelStats
from .superpixel_key import superpixel_keys
from .superpixels import check_superpixel

SOURCES = ('paint', 'guided', 'review', 'import')
#: the sources of writes a labeler can undo (an undo itself, or an import, is not undone by Ctrl-Z)
UNDOABLE = ('paint', 'guided', 'review')
MAX_LABELS_PER_REQUEST = 50000


def document_key(project_id, item_id, superpixel, user_id):
    """The ``_id`` of the one document per (project, slide, superpixel, user): uniqueness and atomic
    upserts then come from MongoDB's ``_id`` index itself."""
    return '%s:%s:%d:%s' % (project_id, item_id, superpixel, user_id)


class Label(Model):
    def initialize(self):
        self.name = 'histomics_label_label'
        self.ensureIndices([
            ([('projectId', 1), ('itemId', 1), ('superpixel', 1)], {}),
            ([('projectId', 1), ('userId', 1), ('itemId', 1)], {}),
            ([('projectId', 1), ('categoryId', 1)], {}),
            ([('projectId', 1), ('itemId', 1), ('x', 1), ('y', 1)], {}),
        ])
        self.exposeFields(AccessType.READ, ('_id', 'projectId', 'itemId', 'superpixel', 'userId', 'categoryId',
                                            'source', 'epoch', 'created', 'updated'))

    def validate(self, doc):
        return doc

    def write(self, project, slide, user, labels, categories, centroids, source='paint', epoch=None):
        """Validate then upsert ``labels`` ([{superpixel, categoryId or None}]) for ``user`` on ``slide``.

        Everything is checked before anything is written, so a bad entry writes nothing (400).
        :returns: (number set, number removed, the write's id in the history).
        """
        if source not in SOURCES + ('undo',):
            raise ValidationException('source must be one of %s.' % ', '.join(SOURCES), 'source')
        if not isinstance(labels, list) or not labels:
            raise ValidationException('labels must be a non-empty list.', 'labels')
        if len(labels) > MAX_LABELS_PER_REQUEST:
            raise ValidationException('At most %d labels per request.' % MAX_LABELS_PER_REQUEST, 'labels')
        count = slide.get('superpixelCount')
        if not count:
            raise ValidationException('Slide %s has no superpixels yet.' % slide['itemId'], 'itemId')
        usable = usable_categories(categories)
        now = datetime.datetime.now(datetime.timezone.utc)
        key = {'projectId': project['_id'], 'itemId': slide['itemId'], 'userId': user['_id']}
        operations, history, latest = [], [], {}
        for entry in labels:
            superpixel, category = self._check(entry, count, usable)
            latest[superpixel] = category
        write_id = ObjectId()
        previous = self._current(project, slide, user, latest)
        for superpixel, category in latest.items():
            where = {'_id': document_key(project['_id'], slide['itemId'], superpixel, user['_id'])}
            if category is None:
                operations.append(DeleteOne(where))
            else:
                x, y = (float(v) for v in centroids[superpixel])
                operations.append(UpdateOne(where, {
                    '$set': {'categoryId': category, 'source': source, 'epoch': epoch, 'updated': now,
                             'x': x, 'y': y},
                    '$setOnInsert': dict(key, superpixel=superpixel, created=now)}, upsert=True))
            history.append(dict(key, superpixel=superpixel, categoryId=category, source=source, epoch=epoch,
                                time=now, writeId=write_id, previous=previous.get(superpixel)))
        self._bulk(operations)
        LabelHistory().collection.insert_many(history, ordered=False)
        LabeledKeys().record(project, user, slide['index'], latest)
        Agreement().record(project, slide['itemId'], user, latest, self)
        LabelStats().record(project['_id'], history)
        removed = sum(1 for c in latest.values() if c is None)
        return len(latest) - removed, removed, write_id

    def _current(self, project, slide, user, superpixels):
        """superpixel -> the user's category on it now, for ``superpixels`` that have one."""
        ids = [document_key(project['_id'], slide['itemId'], sp, user['_id']) for sp in superpixels]
        return {doc['superpixel']: doc['categoryId']
                for doc in self.collection.find({'_id': {'$in': ids}}, {'superpixel': True, 'categoryId': True})}

    def undo(self, project, slides, user, categories, geometry):
        """Revert ``user``'s newest write in the project that is not undone yet (Ctrl-Z): each of its
        superpixels gets back the category it had before (or none). ``slides``: item id -> slide;
        ``geometry(slide)`` gives its centroids. Categories merged or deleted since are not restored: they are
        cleared. Returns {itemId, writeId, labels: [{superpixel, categoryId}]}, or None with nothing to undo."""
        last = LabelHistory().collection.find_one(
            {'projectId': project['_id'], 'userId': user['_id'], 'source': {'$in': list(UNDOABLE)},
             'undone': {'$ne': True}, 'writeId': {'$exists': True}}, sort=[('time', -1), ('_id', -1)])
        if last is None:
            return None
        slide = slides.get(last['itemId'])
        entries = list(LabelHistory().collection.find({'writeId': last['writeId']}))
        LabelHistory().collection.update_many({'writeId': last['writeId']}, {'$set': {'undone': True}})
        if slide is None:  # the slide was removed since: its labels stay as they are
            return {'itemId': last['itemId'], 'writeId': last['writeId'], 'labels': []}
        usable = set(usable_categories(categories).values())
        labels = [{'superpixel': e['superpixel'],
                   'categoryId': e.get('previous') if e.get('previous') in usable else None} for e in entries]
        self.write(project, slide, user, labels, categories, geometry(slide)[0], source='undo')
        return {'itemId': slide['itemId'], 'writeId': last['writeId'], 'labels': labels}

    def counts(self, project, user, resolve):
        """Labels per category (after merges), everyone's and ``user``'s: {category id: {mine, everyone}}, read
        from the project's label counters (one small document, :mod:`.label_stats`)."""
        stats = LabelStats().read(project['_id'], LabelHistory().collection)
        by_id = {str(key): key for key in resolve}
        result = {}
        for who, counts in (('everyone', stats['categories']), ('mine', stats['users'].get(str(user['_id']), {}))):
            for category, count in counts.items():
                if count and category in by_id:
                    key = resolve[by_id[category]]
                    result.setdefault(key, {'mine': 0, 'everyone': 0})[who] += count
        return result

    @staticmethod
    def _check(entry, count, usable):
        if not isinstance(entry, dict) or 'superpixel' not in entry or 'categoryId' not in entry:
            raise ValidationException('Each label is {"superpixel": int, "categoryId": id or null}.', 'labels')
        superpixel = check_superpixel(entry['superpixel'], count, 'labels')
        category = entry['categoryId']
        if category is not None and str(category) not in usable:
            raise ValidationException('Unknown or merged category %r.' % (category,), 'labels')
        return superpixel, (None if category is None else usable[str(category)])

    def _bulk(self, operations, attempts=3):
        """Unordered bulk write; concurrent upserts of one new ``_id`` can collide once (E11000): retry."""
        for attempt in range(attempts):
            try:
                self.collection.bulk_write(operations, ordered=False)
                return
            except BulkWriteError as exc:
                errors = exc.details.get('writeErrors', [])
                if attempt + 1 == attempts or any(e.get('code') != 11000 for e in errors):
                    raise
                operations = [operations[e['index']] for e in errors]

    def query(self, project, itemId=None, userId=None, categoryIds=None, region=None):
        """Mongo filter for labels of a project by slide, user, categories and region (l, t, r, b)."""
        query = {'projectId': project['_id']}
        if itemId is not None:
            query['itemId'] = itemId
        if userId is not None:
            query['userId'] = userId
        if categoryIds:
            query['categoryId'] = {'$in': list(categoryIds)}
        if region is not None:
            left, top, right, bottom = region
            query['x'] = {'$gte': left, '$lte': right}
            query['y'] = {'$gte': top, '$lte': bottom}
        return query


class LabeledKeys(Model):
    """Per (project, user): the keys (:mod:`.superpixel_key`) of every superpixel the user has
    labeled, kept with atomic ``$addToSet`` / ``$pull`` so the label queue reads one small document."""

    def initialize(self):
        self.name = 'histomics_label_labeled_keys'
        self.ensureIndices(['projectId'])

    def validate(self, doc):
        return doc

    @staticmethod
    def _id(project_id, user_id):
        return '%s:%s' % (project_id, user_id)

    def record(self, project, user, slide_index, latest):
        """Add or remove keys after a label write (``latest``: superpixel -> category or None)."""
        added = [int(superpixel_keys(slide_index, sp)) for sp, category in latest.items() if category is not None]
        removed = [int(superpixel_keys(slide_index, sp)) for sp, category in latest.items() if category is None]
        where = {'_id': self._id(project['_id'], user['_id'])}
        if added:
            self.collection.update_one(where, {'$addToSet': {'keys': {'$each': added}},
                                               '$setOnInsert': {'projectId': project['_id']}}, upsert=True)
        if removed:
            self.collection.update_one(where, {'$pull': {'keys': {'$in': removed}}})

    def keys(self, project, user):
        doc = self.collection.find_one({'_id': self._id(project['_id'], user['_id'])})
        return (doc or {}).get('keys', [])

    def drop_slide(self, project, slide_index):
        """Remove a slide's keys from every user's set."""
        first, end = (int(superpixel_keys(index, 0)) for index in (slide_index, slide_index + 1))
        self.collection.update_many({'projectId': project['_id']},
                                    {'$pull': {'keys': {'$gte': first, '$lt': end}}})


class LabelHistory(Model):
    """Append-only log of label changes; ``categoryId`` None records a removal."""

    def initialize(self):
        self.name = 'histomics_label_label_history'
        self.ensureIndices([
            ([('projectId', 1), ('itemId', 1), ('superpixel', 1), ('time', 1)], {}),
            ([('projectId', 1), ('userId', 1), ('time', 1)], {}),
            'writeId',
        ])
        self.exposeFields(AccessType.READ, ('_id', 'projectId', 'itemId', 'superpixel', 'userId', 'categoryId',
                                            'source', 'epoch', 'time', 'writeId', 'previous', 'undone'))

    def validate(self, doc):
        return doc
