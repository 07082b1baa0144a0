"""The study dashboard: labels per user, per slide and per category, labeling actions per hour, and assignment
progress, read from the project's label counters (:class:`..models.label_stats.LabelStats`, one document),
its assignments and the raters' labeled-keys sets: never from the labels themselves, so it answers in the same
time for 2,000 or 2,000,000 labels.
"""
import collections
import datetime

import numpy as np
from bson import ObjectId
from girder.models.user import User

from ..models.assignment import Assignment, assigned_keys
from ..models.category import Category
from ..models.label import LabeledKeys, LabelHistory
from ..models.label_stats import HOUR_FORMAT, LabelStats
from ..models.slide import ProjectSlide
from ..models.study import Study
from ..models.superpixel_key import KEY_SHIFT

MAX_HOURS = 24 * 31


def _progress(project):
    """user id string -> slide index -> [assigned, done]."""
    progress = {}
    for user_id, (keys, _) in assigned_keys(project, Assignment().list(project)).items():
        keys = np.unique(keys)  # sorted, so each slide's keys are one run
        labeled = np.array(LabeledKeys().keys(project, {'_id': user_id}), dtype=np.int64)
        done = np.isin(keys, labeled, assume_unique=True)
        slides, first, assigned = np.unique(keys >> KEY_SHIFT, return_index=True, return_counts=True)
        finished = np.add.reduceat(done.astype(np.int64), first) if len(keys) else []
        progress[str(user_id)] = {int(index): [int(a), int(d)] for index, a, d in zip(slides, assigned, finished)}
    return progress


def _timeline(hours_map, hours, now):
    """The last ``hours`` hourly buckets up to ``now``: [{hour, labels, users: {user: labels}}]."""
    start = now.replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=hours - 1)
    buckets = []
    for step in range(hours):
        hour = start + datetime.timedelta(hours=step)
        users = {user: count for user, count in hours_map.get(hour.strftime(HOUR_FORMAT), {}).items() if count}
        buckets.append({'hour': hour, 'labels': sum(users.values()), 'users': users})
    return buckets


def _people(user_ids):
    found = User().find({'_id': {'$in': list(user_ids)}}, fields=['login', 'firstName', 'lastName'])
    return {str(u['_id']): {'login': u['login'], 'name': '%s %s' % (u['firstName'], u['lastName'])} for u in found}


def dashboard(project, hours=24, rebuild=False):
    """Per user, per slide and per category figures of a project, and its labeling actions per hour."""
    stats = LabelStats().rebuild(project['_id'], LabelHistory().collection) if rebuild else \
        LabelStats().read(project['_id'], LabelHistory().collection)
    study = Study().get(project)
    progress = _progress(project)
    per_user = collections.Counter()
    slides = []
    current = ProjectSlide().list(project)
    named = [(s['itemId'], s['name'], s['index'], False) for s in current] + [
        (r['itemId'], r['name'], r['index'], True) for r in project.get('removedSlides') or ()]
    for item_id, name, index, removed in named:
        raters = {user: n for user, n in stats['slides'].get(str(item_id), {}).items() if n}
        per_user.update(raters)
        assigned = [progress[user][index] for user in progress if index in progress[user]]
        slides.append({'itemId': item_id, 'name': name, 'index': index, 'removed': removed,
                       'labels': sum(raters.values()), 'raters': len(raters),
                       'assigned': sum(a for a, _ in assigned), 'done': sum(d for _, d in assigned)})
    actions, active = collections.Counter(), collections.Counter()
    for bucket in stats['hours'].values():
        for user, count in bucket.items():
            if count:
                actions[user] += count
                active[user] += 1
    user_ids = set(per_user) | set(actions) | set(study['roles']) | set(progress)
    people = _people(ObjectId(u) for u in user_ids)
    users = []
    for user in sorted(user_ids, key=lambda u: (people.get(u, {}).get('login') or '', u)):
        assigned = sum(a for a, _ in progress[user].values()) if user in progress else 0
        done = sum(d for _, d in progress[user].values()) if user in progress else 0
        users.append(dict(people.get(user, {'login': None, 'name': None}), userId=user,
                          roles=list(study['roles'].get(user, [])), labels=per_user.get(user, 0),
                          actions=actions.get(user, 0), activeHours=active.get(user, 0),
                          labelsPerHour=round(actions[user] / active[user], 1) if active.get(user) else None,
                          lastLabel=stats['last'].get(user), assigned=assigned, done=done,
                          remaining=assigned - done))
    categories, _ = Category().columns(project)
    resolve = Category().resolve(Category().list(project))
    by_category = collections.Counter()
    for category, count in stats['categories'].items():
        target = resolve.get(ObjectId(category)) if len(category) == 24 else None
        by_category[str(target or category)] += count
    for slide in slides:
        slide['remaining'] = slide['assigned'] - slide['done']
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        'projectId': project['_id'], 'generated': now, 'hours': hours,
        'totals': {'labels': sum(per_user.values()), 'raters': sum(1 for u in users if u['labels']),
                   'actions': sum(actions.values()), 'assigned': sum(u['assigned'] for u in users),
                   'done': sum(u['done'] for u in users), 'remaining': sum(u['remaining'] for u in users)},
        'users': users, 'slides': slides,
        'categories': [{'categoryId': c['_id'], 'name': c['name'], 'labels': by_category.get(str(c['_id']), 0)}
                       for c in categories],
        'timeline': _timeline(stats['hours'], hours, now),
    }
