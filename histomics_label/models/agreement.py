"""Live inter-rater agreement of a project, kept up to date by every label write.

Why this design: agreement has to answer in well under a second for 200,000 labels on 1M superpixels, so it
is never computed from the labels per request. Every multi-rater statistic of :mod:`..core.agreement` (Fleiss'
kappa and its Gwet SE, Krippendorff's alpha and its bootstrap over items, their per-category versions) is a
function of the *count table*: per superpixel labeled by two or more raters, how many chose each category.
Superpixels with the same counts are interchangeable, so a project keeps the table's histogram in one
document, ``{pattern: number of superpixels}``, a pattern being the sorted ``categoryId:count`` list of one
superpixel. A study has few distinct patterns (tens to a few thousand) however many superpixels it has, and
bootstrapping items is a multinomial draw over patterns, so a request reads that one document. Cohen's kappa
needs who rated what: one document per rater pair holds the pair's confusion matrix over the superpixels both
labeled, ``{"a|b": count}`` (a: the category of the pair's first user by id). Both hold raw category ids and
integers: merges and unmerges are resolved when reading (columns summed through ``Category.resolve``) and
``$inc`` never drifts by rounding.

Exact under concurrent writers: one vote document per labeled superpixel (``{userId: categoryId}``) is
changed atomically by ``find_one_and_update`` returning the votes before the change, so each change is one
transition (before -> after) of a consistent sequence whatever the interleaving, and its effect on the
histogram and the pair matrices is applied as integer increments. Write cost: one such round trip per
superpixel of the write, plus one update of the histogram and one bulk upsert of the pair documents. Within a
process, a project's agreement updates and reads also take a lock: MongoDB does not need it, the embedded
mongomock database does (its ``find_one_and_update`` is not atomic between threads).

A project labeled before this module existed is indexed once from its labels, by the first label write or
agreement request (:meth:`Agreement.ensure`); other writers wait for it, then apply their own change, which
is idempotent against the vote documents. :meth:`Agreement.rebuild` recomputes everything from the labels.
"""
import collections
import datetime
import itertools
import threading
import time

import numpy as np
from bson import ObjectId
from girder.models.model_base import Model
from girder.models.user import User
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ..core import agreement as stats
from .category import Category

BUILDING, READY = 'building', 'ready'
WAIT_SECONDS = 120  # a writer redoes another process's indexing whose heartbeat stopped for this long
HEARTBEAT_LABELS = 5000  # the indexing process beats once per this many labels read
POLL_SECONDS = 0.05


_locks = {}


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _project_lock(project_id):
    return _locks.setdefault(project_id, threading.Lock())


def pattern_key(votes):
    """The histogram key of a superpixel's votes ({user: category}), None with fewer than two raters."""
    if len(votes) < 2:
        return None
    counts = collections.Counter(str(category) for category in votes.values())
    return ','.join('%s:%d' % item for item in sorted(counts.items()))


def parse_pattern(key):
    """{category id string: count} of a histogram key."""
    return {category: int(count) for category, count in (part.split(':') for part in key.split(','))}


def transition(before, after, user, patterns, pairs):
    """Add to ``patterns`` (key -> change) and ``pairs`` ((user, user) -> cell -> change) what one user's vote
    change on one superpixel does; ``before``/``after`` are its votes ({user id string: category})."""
    old, new = before.get(user), after.get(user)
    if old == new:
        return
    for key, step in ((pattern_key(before), -1), (pattern_key(after), 1)):
        if key is not None:
            patterns[key] += step
    for other, theirs in before.items():
        if other == user:
            continue
        pair = tuple(sorted((user, other)))
        for mine, step in ((old, -1), (new, 1)):
            if mine is not None:
                cell = (mine, theirs) if pair[0] == user else (theirs, mine)
                pairs[pair]['%s|%s' % cell] += step


class AgreementVote(Model):
    """One document per labeled superpixel of a project: ``votes`` {user id string: category id}."""

    def initialize(self):
        self.name = 'histomics_label_agreement_vote'
        self.ensureIndices(['projectId'])

    def validate(self, doc):
        return doc

    def change(self, project_id, item_id, superpixel, user, category):
        """Set (or, for None, remove) ``user``'s vote; returns the votes as they were just before."""
        key = '%s:%s:%d' % (project_id, item_id, superpixel)
        if category is None:
            update, upsert = {'$unset': {'votes.' + user: ''}}, False
        else:
            update = {'$set': {'votes.' + user: category},
                      '$setOnInsert': {'projectId': project_id, 'itemId': item_id, 'superpixel': superpixel}}
            upsert = True
        for attempt in range(2):  # two first votes on one superpixel can race to insert it (E11000): retry
            try:
                before = self.collection.find_one_and_update(
                    {'_id': key}, update, projection={'votes': True}, upsert=upsert,
                    return_document=ReturnDocument.BEFORE)
                break
            except DuplicateKeyError:
                if attempt:
                    raise
        votes = (before or {}).get('votes', {})
        if category is None and list(votes) == [user]:
            self.collection.delete_one({'_id': key, 'votes': {}})
        return votes


class AgreementPair(Model):
    """One document per rater pair of a project: ``users`` [u, v] (u < v as strings) and ``counts``
    {"<u's category>|<v's category>": superpixels}."""

    def initialize(self):
        self.name = 'histomics_label_agreement_pair'
        self.ensureIndices(['projectId'])

    def validate(self, doc):
        return doc

    def add(self, project_id, pairs):
        """Apply cell changes ((u, v) -> {cell: change}) with one unordered bulk upsert."""
        operations = [UpdateOne({'_id': '%s:%s:%s' % (project_id, *pair)}, {
            '$inc': {'counts.' + cell: step for cell, step in cells.items() if step},
            '$setOnInsert': {'projectId': project_id, 'users': [ObjectId(user) for user in pair]}}, upsert=True)
            for pair, cells in pairs.items() if any(cells.values())]
        for attempt in range(3):  # concurrent first upserts of one pair collide once (E11000): retry those
            if not operations:
                return
            try:
                self.collection.bulk_write(operations, ordered=False)
                return
            except BulkWriteError as exc:
                errors = exc.details.get('writeErrors', [])
                if attempt == 2 or any(e.get('code') != 11000 for e in errors):
                    raise
                operations = [operations[e['index']] for e in errors]


class Agreement(Model):
    """Per project: ``patterns`` (the count-table histogram), ``state`` (building / ready) and the
    ``heartbeat`` of the process indexing it."""

    def initialize(self):
        self.name = 'histomics_label_agreement'

    def validate(self, doc):
        return doc

    def ensure(self, project, labels):
        """Make sure the project is indexed (from ``labels``, the Label model), indexing it or waiting for
        the process that is."""
        seen, since = None, None
        while True:
            state, claimed = self._claim(project)
            if claimed:
                return self._index(project, labels)
            if state is None:  # claimed by another and deleted since (a rebuild's replace): look again
                continue
            if state['state'] == READY:
                return
            if state['heartbeat'] != seen:
                seen, since = state['heartbeat'], time.monotonic()
            elif time.monotonic() - since > WAIT_SECONDS and self.collection.update_one(
                    {'_id': project['_id'], 'state': BUILDING, 'heartbeat': seen},
                    {'$set': {'heartbeat': _now()}}).modified_count:
                return self._index(project, labels)  # the indexing process stopped beating: redo it
            time.sleep(POLL_SECONDS)

    def _claim(self, project):
        """Read the project's state, and claim its indexing when there is none: returns (state, claimed).
        The process lock makes the read-then-insert atomic between threads (mongomock's unique ``_id`` is
        not); between processes MongoDB's duplicate key error is."""
        with _project_lock(project['_id']):
            state = self.collection.find_one({'_id': project['_id']}, {'state': True, 'heartbeat': True})
            if state is not None:
                return state, False
            try:
                self.collection.insert_one(self._building(project))
            except DuplicateKeyError:
                return self.collection.find_one({'_id': project['_id']}, {'state': True, 'heartbeat': True}), False
            return None, True

    def rebuild(self, project, labels):
        """Recompute the project's votes, histogram and pair matrices from its labels (a repair, for a time
        when nobody labels the project)."""
        self.collection.replace_one({'_id': project['_id']}, self._building(project), upsert=True)
        self._index(project, labels)

    @staticmethod
    def _building(project):
        return {'_id': project['_id'], 'projectId': project['_id'], 'state': BUILDING, 'patterns': {},
                'heartbeat': _now()}

    def _index(self, project, labels):
        """Index the project from its labels, beating the heartbeat that tells waiting writers it is alive."""
        votes = collections.defaultdict(dict)
        for count, doc in enumerate(labels.collection.find(
                {'projectId': project['_id']}, {'itemId': True, 'superpixel': True, 'userId': True,
                                                'categoryId': True}), 1):
            votes[(doc['itemId'], doc['superpixel'])][str(doc['userId'])] = doc['categoryId']
            if not count % HEARTBEAT_LABELS:
                self.collection.update_one({'_id': project['_id']}, {'$set': {'heartbeat': _now()}})
        patterns, pairs = collections.Counter(), collections.defaultdict(collections.Counter)
        for voters in votes.values():
            key = pattern_key(voters)
            if key is not None:
                patterns[key] += 1
            for pair in itertools.combinations(sorted(voters), 2):
                pairs[pair]['%s|%s' % tuple(voters[user] for user in pair)] += 1
        for model in (AgreementVote, AgreementPair):
            model().collection.delete_many({'projectId': project['_id']})
        documents = ({'_id': '%s:%s:%d' % (project['_id'], item_id, superpixel), 'projectId': project['_id'],
                      'itemId': item_id, 'superpixel': superpixel, 'votes': voters}
                     for (item_id, superpixel), voters in votes.items())
        while True:
            chunk = list(itertools.islice(documents, 10000))
            if not chunk:
                break
            AgreementVote().collection.insert_many(chunk, ordered=False)
        AgreementPair().add(project['_id'], pairs)
        self.collection.update_one({'_id': project['_id']},
                                   {'$set': {'patterns': dict(patterns), 'state': READY}}, upsert=True)

    def record(self, project, item_id, user, latest, labels):
        """Apply a label write of ``user`` on a slide (``latest``: superpixel -> category id or None);
        ``labels`` is the Label model (read only to index a project the first time)."""
        self.ensure(project, labels)
        with _project_lock(project['_id']):
            self._record(project, item_id, str(user['_id']), latest)

    def _record(self, project, item_id, user_key, latest):
        patterns, pairs = collections.Counter(), collections.defaultdict(collections.Counter)
        for superpixel, category in latest.items():
            before = AgreementVote().change(project['_id'], item_id, superpixel, user_key, category)
            after = dict(before)
            if category is None:
                after.pop(user_key, None)
            else:
                after[user_key] = category
            transition(before, after, user_key, patterns, pairs)
        changed = {'patterns.' + key: step for key, step in patterns.items() if step}
        if changed:
            self.collection.update_one({'_id': project['_id']}, {'$inc': changed})
        for key, step in patterns.items():
            if step < 0:  # drop patterns no superpixel has any more
                self.collection.update_one({'_id': project['_id'], 'patterns.' + key: 0},
                                           {'$unset': {'patterns.' + key: ''}})
        AgreementPair().add(project['_id'], pairs)

    def report(self, project, labels, confidence=0.95, resamples=1000):
        """The project's agreement after category merges (see docs/api.md): Fleiss' kappa (Gwet SE) and
        Krippendorff's alpha (bootstrap interval over items, fixed seed) overall and per category, and
        Cohen's kappa (Fleiss-Cohen-Everitt SE) per rater pair."""
        self.ensure(project, labels)
        categories = Category().list(project)
        resolve = Category().resolve(categories)
        columns = [c['_id'] for c in categories if c.get('mergedInto') is None]
        column_of = {str(category): columns.index(target) for category, target in resolve.items()}
        with _project_lock(project['_id']):
            patterns = self.collection.find_one({'_id': project['_id']}, {'patterns': True})['patterns']
            pair_documents = list(AgreementPair().find({'projectId': project['_id']}))
        rows, weights = [], []
        for key, count in sorted(patterns.items()):  # sorted: the same statistics give the same answer
            if count > 0:
                row = np.zeros(len(columns))
                for category, raters in parse_pattern(key).items():
                    row[column_of[category]] += raters
                rows.append(row)
                weights.append(count)
        summary = stats.summarize(np.array(rows).reshape(len(rows), len(columns)), np.array(weights),
                                  confidence, resamples)
        pairs, raters = [], set()
        for doc in pair_documents:
            confusion = np.zeros((len(columns), len(columns)))
            for cell, count in doc.get('counts', {}).items():
                first, second = cell.split('|')
                confusion[column_of[first], column_of[second]] += count
            if confusion.sum() > 0:
                pairs.append(dict(stats.cohen_kappa(confusion, confidence), userIds=doc['users']))
                raters.update(doc['users'])
        pairs.sort(key=lambda pair: [str(user) for user in pair['userIds']])
        for entry, category in zip(summary['categories'], columns):
            entry['categoryId'] = category
        return dict(summary, confidence=confidence, pairs=pairs, raters=[
            self._rater(user) for user in sorted(raters, key=str)])

    @staticmethod
    def _rater(user_id):
        user = User().load(user_id, force=True, fields=['login', 'firstName', 'lastName']) or {}
        return {'userId': user_id, 'login': user.get('login'),
                'name': ' '.join(filter(None, (user.get('firstName'), user.get('lastName')))) or None}
