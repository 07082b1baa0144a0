"""Label counters per project, kept up to date by every label write, for the study dashboard.

One document per project (``_id`` = project id) holds, by user id string: current labels per slide
(``slides.<itemId>.<userId>``), current labels per category (``categories.<categoryId>``, before merges) and
per user and category (``users.<userId>.<categoryId>``),
labeling actions per hour (``hours.<YYYYmmddHH>.<userId>``: label sets of source paint, guided or review), each
user's last labeling time (``last.<userId>``) and a count of writes (``writes``: a version that caches of
label-derived data compare). :meth:`LabelStats.record` folds one write's history entries into it with a single
``$inc``/``$max`` update (atomic in MongoDB), so the dashboard reads one small document instead of aggregating
every label.

A project whose document is missing (labeled before the counters existed) gets it rebuilt from the label
history by aggregation the first time it is read (:meth:`LabelStats.rebuild`); a write that lands during that
rebuild can be missed, so ``rebuild`` is also offered to leads. Writes never create the document themselves.
"""
import collections
import datetime

from girder.models.model_base import Model
from pymongo.errors import DuplicateKeyError

#: history sources that count as labeling work per hour (not imports, not undos)
WORK_SOURCES = ('paint', 'guided', 'review')
HOUR_FORMAT = '%Y%m%d%H'


def hour_key(time):
    return time.strftime(HOUR_FORMAT)


def _increments(entries):
    """(``$inc`` fields, ``$max`` fields) for history entries ({userId, itemId, categoryId, previous, source,
    time})."""
    inc, last = collections.Counter(), {}
    for entry in entries:
        user, item = str(entry['userId']), str(entry['itemId'])
        for category, sign in ((entry.get('categoryId'), 1), (entry.get('previous'), -1)):
            if category is not None:
                inc['slides.%s.%s' % (item, user)] += sign
                inc['categories.%s' % category] += sign
                inc['users.%s.%s' % (user, category)] += sign
        if entry.get('categoryId') is not None and entry.get('source') in WORK_SOURCES:
            inc['hours.%s.%s' % (hour_key(entry['time']), user)] += 1
            key = 'last.%s' % user
            last[key] = max(last.get(key, entry['time']), entry['time'])
    inc['writes'] += 1
    return {key: value for key, value in inc.items() if value}, last


class LabelStats(Model):
    def initialize(self):
        self.name = 'histomics_label_label_stats'

    def validate(self, doc):
        return doc

    def start(self, project_id):
        """An empty document for a new project (so that its counters are exact from the first label)."""
        try:
            self.collection.insert_one(self._empty(project_id))
        except DuplicateKeyError:
            pass

    @staticmethod
    def _empty(project_id):
        return {'_id': project_id, 'slides': {}, 'categories': {}, 'users': {}, 'hours': {}, 'last': {}, 'writes': 0}

    def record(self, project_id, entries):
        """Fold one write's history entries into the project's counters (no-op until the document exists)."""
        inc, last = _increments(entries)
        update = {'$inc': inc}
        if last:
            update['$max'] = last
        self.collection.update_one({'_id': project_id}, update)

    def read(self, project_id, history):
        """The project's counters, rebuilt from ``history`` (the label history collection) if it has none (or
        only counters from before ``users`` was kept)."""
        doc = self.collection.find_one({'_id': project_id})
        return doc if doc is not None and 'users' in doc else self.rebuild(project_id, history)

    def rebuild(self, project_id, history):
        """Recount everything from ``history`` (the label history collection, aggregated in the database)."""
        doc = self._empty(project_id)
        for field, sign in (('categoryId', 1), ('previous', -1)):
            for row in history.aggregate([
                    {'$match': {'projectId': project_id, field: {'$ne': None}}},
                    {'$group': {'_id': {'u': '$userId', 'i': '$itemId', 'c': '$' + field}, 'n': {'$sum': 1}}}]):
                key = row['_id']
                users = doc['slides'].setdefault(str(key['i']), {})
                users[str(key['u'])] = users.get(str(key['u']), 0) + sign * row['n']
                category = str(key['c'])
                doc['categories'][category] = doc['categories'].get(category, 0) + sign * row['n']
                mine = doc['users'].setdefault(str(key['u']), {})
                mine[category] = mine.get(category, 0) + sign * row['n']
        hour = {'$dateToString': {'format': HOUR_FORMAT, 'date': '$time'}}
        for row in history.aggregate([
                {'$match': {'projectId': project_id, 'categoryId': {'$ne': None},
                            'source': {'$in': list(WORK_SOURCES)}}},
                {'$group': {'_id': {'u': '$userId', 'h': hour}, 'n': {'$sum': 1}, 'last': {'$max': '$time'}}}]):
            user = str(row['_id']['u'])
            doc['hours'].setdefault(row['_id']['h'], {})[user] = row['n']
            doc['last'][user] = max(doc['last'].get(user, row['last']), row['last'])
        doc['writes'] = history.count_documents({'projectId': project_id})  # a version: any new number will do
        doc['rebuilt'] = datetime.datetime.now(datetime.timezone.utc)
        self.collection.replace_one({'_id': project_id}, doc, upsert=True)
        return doc

    def remove_project(self, project_id):
        self.collection.delete_many({'_id': project_id})
