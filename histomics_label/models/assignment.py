"""Assignments of a study: slides x raters with an overlap level and one shared sample of superpixels per slide.

For agreement, the raters of a slide must label the *same* superpixels, so an assignment draws per slide one
sample of at most ``quota`` superpixels (seeded random, or the top of the current epoch's acquisition ranking:
the superpixels the model is least sure about) that all of that slide's ``overlap`` raters get. Slides are
balanced over the raters (every rater gets the same number of slides, give or take one; ties broken by the
seeded generator, so rater pairs vary). A rater's queue is their assigned superpixels not labeled yet, in
assignment, slide and sample order; progress is done / remaining per assignment, read from the labeled-keys
sets the label writes keep (:class:`.label.LabeledKeys`), never from the labels themselves.
"""
import datetime
import functools

import numpy as np
from bson.binary import Binary
from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.model_base import Model

from .label import LabeledKeys
from .prediction import Ranking
from .slide import ProjectSlide
from .superpixel_key import KEY_SHIFT, SUPERPIXEL_MASK, superpixel_keys

SAMPLINGS = ('random', 'uncertain')
MAX_QUOTA = 100000


def balance(slide_count, user_ids, overlap, rng):
    """For each of ``slide_count`` slides, ``overlap`` distinct raters: the least loaded first, ties in a
    seeded random order drawn per slide (so the loads differ by at most one and the pairs vary)."""
    load = {user: 0 for user in user_ids}
    chosen = []
    for _ in range(slide_count):
        tiebreak = dict(zip(user_ids, rng.permutation(len(user_ids))))
        raters = sorted(user_ids, key=lambda user: (load[user], tiebreak[user]))[:overlap]
        for user in raters:
            load[user] += 1
        chosen.append(raters)
    return chosen


def draw_sample(project, slide, quota, sampling, rng):
    """The superpixels of ``slide`` an assignment shares among its raters, in queue order."""
    count = slide['superpixelCount']
    if sampling == 'random':
        return rng.choice(count, size=min(quota, count), replace=False)
    ranked = Ranking().keys(project)
    on_slide = ranked[(ranked >> KEY_SHIFT) == slide['index']] if ranked is not None else ()
    if not len(on_slide):
        raise ValidationException('Slide %s has no predictions to sample by uncertainty yet; train first or '
                                  'sample at random.' % slide['name'], 'sampling')
    return (on_slide[:quota] & SUPERPIXEL_MASK).astype(np.int64)


class Assignment(Model):
    """``slides``: [{itemId, index, userIds, count}] (count: the sample's size); the samples are
    :class:`AssignmentSample` documents."""

    def initialize(self):
        self.name = 'histomics_label_assignment'
        self.ensureIndices([([('projectId', 1), ('created', 1)], {})])
        self.exposeFields(AccessType.READ, ('_id', 'projectId', 'name', 'creatorId', 'created', 'userIds',
                                            'overlap', 'quota', 'sampling', 'seed', 'slides'))

    def validate(self, doc):
        return doc

    def list(self, project):
        return list(self.find({'projectId': project['_id']}, sort=[('created', 1), ('_id', 1)]))

    def create(self, project, creator, name, slides, user_ids, overlap, quota, sampling, seed):
        """Balance ``slides`` over ``user_ids`` and draw each slide's shared sample; everything is checked
        (and every sample drawn) before anything is written."""
        if not slides:
            raise ValidationException('An assignment needs at least one slide.', 'itemIds')
        unsegmented = [s['name'] for s in slides if not s.get('superpixelCount')]
        if unsegmented:
            raise ValidationException('Slides without superpixels cannot be assigned: %s.' % ', '.join(
                unsegmented), 'itemIds')
        if len(set(user_ids)) != len(user_ids) or not 1 <= overlap <= len(user_ids):
            raise ValidationException('overlap (raters per slide) must be 1 to the number of distinct raters '
                                      '(%d).' % len(set(user_ids)), 'overlap')
        rng = np.random.default_rng(seed)
        slides = sorted(slides, key=lambda s: s['index'])
        raters = balance(len(slides), list(user_ids), overlap, rng)
        samples = [draw_sample(project, slide, quota, sampling, rng) for slide in slides]
        doc = self.save({
            'projectId': project['_id'], 'name': name, 'creatorId': creator['_id'],
            'created': datetime.datetime.now(datetime.timezone.utc), 'userIds': list(user_ids),
            'overlap': overlap, 'quota': quota, 'sampling': sampling, 'seed': seed,
            'slides': [{'itemId': slide['itemId'], 'index': slide['index'], 'userIds': users, 'count': len(sample)}
                       for slide, users, sample in zip(slides, raters, samples)]})
        AssignmentSample().collection.insert_many([
            {'assignmentId': doc['_id'], 'projectId': project['_id'], 'itemId': slide['itemId'],
             'superpixels': Binary(np.asarray(sample, dtype=np.int32).tobytes())}
            for slide, sample in zip(slides, samples)])
        return doc

    def remove(self, doc, **kwargs):
        """Delete the assignment and its samples (labels stay)."""
        AssignmentSample().collection.delete_many({'assignmentId': doc['_id']})
        return super().remove(doc, **kwargs)

    def remove_project(self, project_id):
        for model in (AssignmentSample, Assignment):
            model().collection.delete_many({'projectId': project_id})


class AssignmentSample(Model):
    """One slide's shared sample of an assignment: ``superpixels`` as int32 bytes, in queue order."""

    def initialize(self):
        self.name = 'histomics_label_assignment_sample'
        self.ensureIndices(['assignmentId', 'projectId'])

    def validate(self, doc):
        return doc

    # An assignment never changes once made (it is deleted, not edited), so its samples are cached by id.
    @functools.lru_cache(maxsize=64)
    def samples(self, assignment_id):
        """item id -> the sample (int64 superpixels) of every slide of an assignment."""
        return {doc['itemId']: np.frombuffer(doc['superpixels'], dtype=np.int32).astype(np.int64)
                for doc in self.collection.find({'assignmentId': assignment_id})}


def assigned_keys(project, assignments=None, user_ids=None):
    """user id -> (superpixel keys in queue order, the index of the assignment each key comes from), over the
    project's current slides (a removed slide's share is dropped); ``user_ids`` limits the users."""
    current = {slide['itemId']: slide['index'] for slide in ProjectSlide().list(project)}
    parts = {}
    for number, assignment in enumerate(assignments if assignments is not None else Assignment().list(project)):
        samples = AssignmentSample().samples(assignment['_id'])
        for entry in assignment['slides']:
            if entry['itemId'] not in current:
                continue
            keys = superpixel_keys(current[entry['itemId']], samples[entry['itemId']])
            for user in entry['userIds']:
                if user_ids is None or user in user_ids:
                    parts.setdefault(user, []).append((keys, number))
    return {user: (np.concatenate([keys for keys, _ in chunks]),
                   np.concatenate([np.full(len(keys), number) for keys, number in chunks]))
            for user, chunks in parts.items()}


def user_progress(project, user_id, assignments=None):
    """(keys still to label in queue order, per assignment [assigned, done]) for one rater."""
    assignments = assignments if assignments is not None else Assignment().list(project)
    keys, owner = assigned_keys(project, assignments, {user_id}).get(user_id, (np.zeros(0, np.int64),
                                                                               np.zeros(0, np.int64)))
    labeled = np.array(LabeledKeys().keys(project, {'_id': user_id}), dtype=np.int64)
    done = np.isin(keys, labeled)
    counts = [[int((owner == number).sum()), int((done & (owner == number)).sum())]
              for number in range(len(assignments))]
    return keys[~done], counts
