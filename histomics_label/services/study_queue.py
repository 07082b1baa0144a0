"""What a rater labels next in a study: the guided queue (GET next) routed by role, and "my queue" of assigned
superpixels; both without predictions for a blinded rater.

Routing (the study option ``routing``): a trainee's guided queue keeps the current ranking's superpixels the
model is confident about (top probability at least ``confidentAt``); an expert's starts with the disputed
superpixels (raters disagree, no majority, not adjudicated) and goes on with the uncertain ones (below
``confidentAt``). Leads, reviewers, users with both rater roles and projects without routing get the ranking
as it is.
"""
import functools
import threading
import time

import numpy as np

from ..models.assignment import Assignment, user_progress
from ..models.category import Category
from ..models.label import Label
from ..models.label_stats import LabelStats
from ..models.prediction import Prediction, Ranking, next_superpixels, prediction_rows
from ..models.review import Review
from ..models.slide import ProjectSlide
from ..models.study import Study
from ..models.superpixel_key import KEY_SHIFT, SUPERPIXEL_MASK, superpixel_keys
from .known_answers import mixed_keys

PREDICTION_FIELDS = ('categoryId', 'probabilities', 'certainty')
DISPUTES_TTL = 30  # seconds a project's disputed superpixels are reused while labels keep changing
_disputes, _disputes_lock = {}, threading.Lock()


def blind(rows):
    """The rows without the model's predictions (the keys stay, as null)."""
    return [dict(row, **{field: None for field in PREDICTION_FIELDS}) for row in rows]


@functools.lru_cache(maxsize=8)
def _confidence(project_id, epoch, removed_slides):
    """The current epoch's top probability for every key of its ranking, in ranking order (cached like the
    ranking itself: by project, epoch and number of removed slides, which is all the two models read)."""
    project = {'_id': project_id, 'epoch': epoch, 'removedSlides': [None] * removed_slides}
    keys = Ranking().keys(project)
    confidence = np.zeros(len(keys), dtype=np.float32)
    slide_of = keys >> KEY_SHIFT
    for slide in ProjectSlide().find({'projectId': project_id}):
        arrays = Prediction().slide_arrays(project, slide)
        members = np.flatnonzero(slide_of == slide['index'])
        if arrays is not None and len(members):
            top = arrays[1].max(axis=1).astype(np.float32)
            confidence[members] = top[keys[members] & SUPERPIXEL_MASK]
    return confidence


def confidence_of_ranking(project):
    """(ranked keys, top probability of each) of the current epoch, or (None, None) before training."""
    keys = Ranking().keys(project)
    if keys is None:
        return None, None
    return keys, _confidence(project['_id'], project.get('epoch'), len(project.get('removedSlides') or ()))


def _label_disputes(project):
    """Keys of superpixels whose raters disagree with no strict majority (after merges), by aggregation."""
    resolve = Category().resolve(Category().list(project))
    index_of = {slide['itemId']: slide['index'] for slide in ProjectSlide().list(project)}
    keys = []
    for group in Label().collection.aggregate([
            {'$match': {'projectId': project['_id']}},
            {'$group': {'_id': {'itemId': '$itemId', 'superpixel': '$superpixel'},
                        'categories': {'$push': '$categoryId'}, 'raters': {'$sum': 1}}},
            {'$match': {'raters': {'$gte': 2}}}]):
        votes = [resolve.get(c, c) for c in group['categories']]
        top = max(votes.count(c) for c in set(votes))
        if top * 2 <= len(votes) and group['_id']['itemId'] in index_of:
            keys.append((index_of[group['_id']['itemId']], group['_id']['superpixel']))
    return superpixel_keys(*zip(*sorted(keys))) if keys else np.zeros(0, dtype=np.int64)


def disputed_keys(project):
    """Keys of disputed superpixels that no verdict has decided; the label part is reused for
    ``DISPUTES_TTL`` seconds, or for as long as no label is written."""
    writes = (LabelStats().collection.find_one({'_id': project['_id']}, {'writes': True}) or {}).get('writes')
    with _disputes_lock:
        cached = _disputes.get(project['_id'])
    if cached is None or (cached[0] != writes and time.monotonic() - cached[1] > DISPUTES_TTL):
        cached = (writes, time.monotonic(), _label_disputes(project))
        with _disputes_lock:
            _disputes[project['_id']] = cached
    keys = cached[2]
    index_of = {slide['itemId']: slide['index'] for slide in ProjectSlide().list(project)}
    decided = [(index_of[r['itemId']], r['superpixel']) for r in Review().collection.find(
        {'projectId': project['_id'], 'categoryId': {'$ne': None}}, {'itemId': True, 'superpixel': True})
        if r['itemId'] in index_of]
    return keys[~np.isin(keys, superpixel_keys(*zip(*decided)))] if decided and len(keys) else keys


def routed_keys(project, caller, study):
    """The ranking as routing gives it to ``caller`` (None: the ranking as it is)."""
    roles = set(caller.roles)
    if not study['routing'] or ('trainee' in roles) == ('expert' in roles):
        return None
    keys, confidence = confidence_of_ranking(project)
    if keys is None:
        return None
    confident = confidence >= study['confidentAt']
    if 'trainee' in roles:
        return keys[confident]
    disputed = disputed_keys(project)
    uncertain = keys[~confident]
    return np.concatenate([disputed, uncertain[~np.isin(uncertain, disputed)]])


def next_for(project, user, limit, offset):
    """GET next for ``user``: routed by role when the study routes, with known-answer items when the project
    asks for them (:mod:`.known_answers`), without predictions when blinded."""
    study = Study().get(project)
    caller = Study().caller(project, user, study)
    keys, share = routed_keys(project, caller, study), project['settings'].get('knownAnswerShare', 0)
    if share:  # known-answer items mixed in, unmarked (docs/studies.md, Guardrails)
        rows = prediction_rows(project, mixed_keys(project, user, limit, offset, share, keys))
    else:
        rows = next_superpixels(project, user, limit, offset, keys=keys)
    return blind(rows) if caller.blinded else rows


def my_queue(project, user, limit, offset):
    """The caller's assigned superpixels not labeled yet (in assignment, slide and sample order; ``remaining``
    is the queue's length) with their progress per assignment."""
    assignments = Assignment().list(project)
    remaining, counts = user_progress(project, user['_id'], assignments)
    _, first = np.unique(remaining, return_index=True)  # a superpixel two assignments share comes once
    remaining = remaining[np.sort(first)]
    rows = prediction_rows(project, remaining[offset:offset + limit])
    progress = [{'assignmentId': a['_id'], 'name': a['name'], 'assigned': assigned, 'done': done,
                 'remaining': assigned - done} for a, (assigned, done) in zip(assignments, counts) if assigned]
    return {'assigned': sum(p['assigned'] for p in progress), 'done': sum(p['done'] for p in progress),
            'remaining': len(remaining), 'assignments': progress,
            'rows': blind(rows) if Study().blinded(project, user) else rows}
