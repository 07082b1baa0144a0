"""Guardrails against automation bias: per labeler, accuracy on known-answer items and how often the model's
suggestion is taken as it is.

A **known answer** is a superpixel a reviewer decided: its newest ``agree`` or ``correct`` verdict
(:mod:`.review`) names its category. The guided queue mixes such items in, unmarked
(:mod:`..services.known_answers`). A label write counts the writer's **first** label on each superpixel (no
earlier entry of theirs there in the label history; sources paint, guided and review, not imports or undos):

- on a known-answer superpixel someone else decided: ``known.answered`` + 1, and ``known.correct`` + 1 when the
  label is the known answer (after category merges);
- from the guided view (source ``guided``) with the ``epoch`` the labeler was shown, when that epoch's
  predictions are still stored (the current or the previous epoch) and the labeler was not blinded (a blinded
  rater is shown no suggestion): ``suggested.accepted`` + 1 when the label is the predicted category,
  ``suggested.corrected`` + 1 otherwise.

Counts are of first answers: changing or undoing a label later never changes them, so an undo cannot turn a
wrong first answer into a right one. One document per project (``_id`` = project id) holds them by user id
string, updated by one ``$inc`` per label write: never a scan of the labels.
"""
import collections
import threading

from bson import ObjectId
from girder.constants import AccessType
from girder.models.model_base import Model
from girder.models.user import User
from pymongo.errors import DuplicateKeyError

from .category import Category
from .label import LabelHistory
from .prediction import Prediction
from .review import Review
from .study import MONITOR, Study

#: label-history sources that are a labeler's own answer
ANSWER_SOURCES = ('paint', 'guided', 'review')
_locks, _locks_guard = {}, threading.Lock()


def _project_lock(project_id):
    """A process lock per project: MongoDB's ``$inc`` is atomic, mongomock's (tests, demo) is not."""
    with _locks_guard:
        return _locks.setdefault(project_id, threading.Lock())


def known_answers(project, item_id, superpixels):
    """superpixel -> (known category id, id of the reviewer who decided it) for those of ``superpixels`` of
    one slide that a reviewer decided (the newest verdict naming a category wins, as in :mod:`.review`)."""
    newest = {}
    for review in Review().collection.find(
            {'projectId': project['_id'], 'itemId': item_id, 'superpixel': {'$in': list(superpixels)},
             'categoryId': {'$ne': None}}, {'superpixel': True, 'categoryId': True, 'reviewerId': True,
                                            'time': True}):
        if review['superpixel'] not in newest or review['time'] >= newest[review['superpixel']]['time']:
            newest[review['superpixel']] = review
    return {sp: (r['categoryId'], r['reviewerId']) for sp, r in newest.items()}


def suggested_categories(project, slide, user, superpixels, epoch):
    """superpixel -> the category epoch ``epoch`` predicted, if the labeler was shown it: the epoch is the
    current or the previous one (both stay stored) and ``user`` is not blinded; else {}."""
    current = project.get('epoch') or 0
    if epoch is None or not 1 <= epoch <= current or epoch < current - 1 or Study().blinded(project, user):
        return {}
    arrays = Prediction().slide_arrays(project, slide, epoch)
    if arrays is None:
        return {}
    predicted, _, _, category_ids = arrays
    return {sp: category_ids[int(predicted[sp])] for sp in superpixels if sp < len(predicted)}


def first_labels(project, slide, user, superpixels, write_id):
    """Those of ``superpixels`` that ``user`` never labeled before the write ``write_id``."""
    earlier = LabelHistory().collection.find(
        {'projectId': project['_id'], 'itemId': slide['itemId'], 'userId': user['_id'],
         'superpixel': {'$in': list(superpixels)}, 'writeId': {'$ne': write_id}}, {'superpixel': True})
    return set(superpixels) - {entry['superpixel'] for entry in earlier}


def _rate(part, whole):
    return round(part / whole, 4) if whole else None


class Guardrails(Model):
    def initialize(self):
        self.name = 'histomics_label_guardrails'

    def validate(self, doc):
        return doc

    def record(self, project, slide, user, labels, categories, source, epoch, write_id):
        """Count the answers of one label write that succeeded (``labels``: its entries, {superpixel,
        categoryId or None}, the last entry of a superpixel winning) whose history entries carry ``write_id``."""
        latest = {entry['superpixel']: entry['categoryId'] for entry in labels}
        chosen = {sp: ObjectId(category) for sp, category in latest.items() if category is not None}
        if source not in ANSWER_SOURCES or not chosen:
            return
        known = {sp: answer for sp, (answer, reviewer) in known_answers(project, slide['itemId'], chosen).items()
                 if reviewer != user['_id']}  # a verdict of one's own is no test
        suggested = suggested_categories(project, slide, user, chosen, epoch) if source == 'guided' else {}
        if not known and not suggested:
            return
        first = first_labels(project, slide, user, set(known) | set(suggested), write_id)
        resolve = Category().resolve(categories)

        def matches(sp, expected):  # the written category is unmerged; the expected one may be merged since
            return resolve.get(expected, expected) == chosen[sp]

        counts = collections.Counter()
        for sp in first:
            if sp in known:
                counts['known.answered'] += 1
                counts['known.correct'] += matches(sp, known[sp])
            if sp in suggested:
                counts['suggested.accepted' if matches(sp, suggested[sp]) else 'suggested.corrected'] += 1
        if counts:
            self._increment(project['_id'], user['_id'], counts)

    def _increment(self, project_id, user_id, counts):
        update = {'$inc': {'users.%s.%s' % (user_id, key): value for key, value in counts.items() if value},
                  '$setOnInsert': {'projectId': project_id}}
        with _project_lock(project_id):
            try:
                self.collection.update_one({'_id': project_id}, update, upsert=True)
            except DuplicateKeyError:  # two first upserts of the project's document: the loser updates
                self.collection.update_one({'_id': project_id}, update)

    def status(self, project, user):
        """The ``guardrails`` entry of the project status: the setting and one row per user. Those who may
        monitor a study (lead, reviewer, folder admin) see every user who has counts; everyone else only their
        own row. A blinded rater's own known-answer counts are null: they would tell which items were known
        and what their answer was."""
        doc = self.collection.find_one({'_id': project['_id']}) or {}
        counts = doc.get('users', {})
        study = Study().get(project)
        caller = Study().caller(project, user, study)
        everyone = caller.level >= AccessType.ADMIN or (bool(study['roles']) and MONITOR in caller.capabilities)
        user_ids = sorted(counts) if everyone else [str(user['_id'])]
        rows = [self._row(user_id, counts.get(user_id, {})) for user_id in user_ids]
        if caller.blinded:
            for row in rows:
                row['knownAnswers'] = dict.fromkeys(row['knownAnswers'])
        rows.sort(key=lambda row: (row['login'] or '', row['userId']))
        return {'knownAnswerShare': project['settings'].get('knownAnswerShare', 0.0), 'users': rows}

    @staticmethod
    def _row(user_id, counts):
        known, suggested = counts.get('known', {}), counts.get('suggested', {})
        answered, correct = known.get('answered', 0), known.get('correct', 0)
        accepted, corrected = suggested.get('accepted', 0), suggested.get('corrected', 0)
        user = User().load(user_id, force=True, fields=['login', 'firstName', 'lastName'])
        return {'userId': user_id, 'login': user['login'] if user else None,
                'name': '%s %s' % (user['firstName'], user['lastName']) if user else None,
                'knownAnswers': {'answered': answered, 'correct': correct, 'accuracy': _rate(correct, answered)},
                'suggestions': {'answered': accepted + corrected, 'accepted': accepted, 'corrected': corrected,
                                'acceptedShare': _rate(accepted, accepted + corrected)}}
