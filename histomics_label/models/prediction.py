"""Predictions of a training epoch, stored compactly, and the project-wide acquisition ranking.

One ``Prediction`` document per slide and epoch holds arrays (predicted column, per-category
probabilities as float16, certainty); one ``Ranking`` document per chunk of the epoch's ranking holds
superpixel keys (``slide index << 32 | superpixel``) in the order the project's acquisition strategy chose.
An epoch becomes visible in one atomic write of ``project.epoch`` once all of it is stored; the previous
epoch is kept until the next one lands, so a reader never sees half an epoch.
"""
import functools

import numpy as np
from bson.binary import Binary
from girder.exceptions import ValidationException
from girder.models.model_base import Model

from .label import LabeledKeys
from .slide import ProjectSlide
from .superpixel_key import KEY_SHIFT, split_key, superpixel_keys
from .superpixels import superpixel_bbox

RANKING_CHUNK = 500000
ROW_ARRAYS = ('slide_index', 'superpixel', 'predicted', 'probabilities', 'certainty')


def _array(doc, field, dtype, shape=(-1,)):
    return np.frombuffer(doc[field], dtype=dtype).reshape(shape)


class Prediction(Model):
    def initialize(self):
        self.name = 'histomics_label_prediction'
        self.ensureIndices([([('projectId', 1), ('epoch', 1), ('itemId', 1)], {})])

    def validate(self, doc):
        return doc

    def slide_arrays(self, project, slide, epoch=None):
        """(predicted column, probabilities (n, k), certainty, category ids) for a slide, or None."""
        epoch = project.get('epoch') if epoch is None else epoch
        doc_id = self._doc_ids(project['_id'], epoch).get(slide['itemId'])
        return None if doc_id is None else self._arrays(doc_id)

    # A published epoch never changes, so its arrays are cached by (project, epoch) in every process.
    @functools.lru_cache(maxsize=64)
    def _doc_ids(self, project_id, epoch):
        return {d['itemId']: d['_id'] for d in self.collection.find(
            {'projectId': project_id, 'epoch': epoch}, {'itemId': True})}

    def drop_slide(self, project, item_id):
        """Delete a slide's predictions of every epoch."""
        self.collection.delete_many({'projectId': project['_id'], 'itemId': item_id})

    @functools.lru_cache(maxsize=256)
    def _arrays(self, doc_id):
        doc = self.load(doc_id)
        count, columns = doc['count'], len(doc['categoryIds'])
        return (_array(doc, 'predicted', np.uint16), _array(doc, 'probabilities', np.float16, (count, columns)),
                _array(doc, 'certainty', np.float32), doc['categoryIds'])


class Ranking(Model):
    def initialize(self):
        self.name = 'histomics_label_ranking'
        self.ensureIndices([([('projectId', 1), ('epoch', 1), ('chunk', 1)], {})])

    def validate(self, doc):
        return doc

    def keys(self, project):
        """The current epoch's ranked superpixel keys, or None before any training."""
        return self._keys(project['_id'], project.get('epoch'), len(project.get('removedSlides') or ()))

    # A published ranking changes only when a slide is removed (drop_slide), and the project records the
    # removal right after: the count of removed slides versions the cache in every process.
    @functools.lru_cache(maxsize=16)
    def _keys(self, project_id, epoch, removed_slides):
        chunks = list(self.collection.find({'projectId': project_id, 'epoch': epoch}, sort=[('chunk', 1)]))
        return np.concatenate([_array(c, 'keys', np.int64) for c in chunks]) if chunks else None

    def drop_slide(self, project, slide_index):
        """Remove a slide's keys from every stored epoch's ranking (a chunk left empty goes)."""
        for chunk in self.collection.find({'projectId': project['_id']}, {'keys': True}):
            keys = _array(chunk, 'keys', np.int64)
            kept = keys[(keys >> KEY_SHIFT) != slide_index]
            if not len(kept):
                self.collection.delete_one({'_id': chunk['_id']})
            elif len(kept) < len(keys):
                self.collection.update_one({'_id': chunk['_id']}, {'$set': {'keys': Binary(kept.tobytes())}})


def store_epoch(project, epoch, arrays, category_ids):
    """Validate and store one epoch's predictions and ranking (not visible until it is published with
    ``Project().publish_epoch``); returns the slide indices it covers.

    ``arrays``: ``slide_index``, ``superpixel``, ``predicted`` (column), ``probabilities`` (n, k),
    ``certainty`` (n,), ``ranking`` (row indices in acquisition order). Columns follow ``category_ids``.
    Rows of slides removed from the project while the epoch trained are left out.
    """
    if epoch <= project.get('epoch', 0):
        raise ValidationException('Epoch %d is not newer than the current epoch %d.' % (
            epoch, project.get('epoch', 0)), 'epoch')
    _check_arrays(arrays, len(category_ids))
    arrays = _without_removed_slides(project, arrays)
    slides = {s['index']: s for s in ProjectSlide().list(project)}
    slide_index, superpixel = arrays['slide_index'].astype(np.int64), arrays['superpixel'].astype(np.int64)
    for index in np.unique(slide_index):
        slide = slides.get(int(index))
        members = np.flatnonzero(slide_index == index)
        if slide is None or not slide.get('superpixelCount'):
            raise ValidationException('Slide index %d is not a segmented slide of the project.' % index)
        if (len(members) != slide['superpixelCount'] or
                not np.array_equal(np.sort(superpixel[members]), np.arange(slide['superpixelCount']))):
            raise ValidationException('Slide %s needs one prediction per superpixel.' % slide['name'])
    for index in np.unique(slide_index):
        members = np.flatnonzero(slide_index == index)
        members = members[np.argsort(superpixel[members])]
        Prediction().collection.insert_one({
            'projectId': project['_id'], 'itemId': slides[int(index)]['itemId'], 'epoch': epoch,
            'count': len(members), 'categoryIds': list(category_ids),
            'predicted': Binary(arrays['predicted'][members].astype(np.uint16).tobytes()),
            'probabilities': Binary(arrays['probabilities'][members].astype(np.float16).tobytes()),
            'certainty': Binary(arrays['certainty'][members].astype(np.float32).tobytes())})
    keys = superpixel_keys(slide_index, superpixel)[arrays['ranking']]
    for chunk, start in enumerate(range(0, len(keys), RANKING_CHUNK)):
        Ranking().collection.insert_one({'projectId': project['_id'], 'epoch': epoch, 'chunk': chunk,
                                         'keys': Binary(keys[start:start + RANKING_CHUNK].tobytes())})
    return [int(i) for i in np.unique(slide_index)]


def _without_removed_slides(project, arrays):
    """The arrays without the rows of slides removed while the epoch trained (and without their ranking)."""
    removed = np.isin(arrays['slide_index'], [r['index'] for r in project.get('removedSlides') or ()])
    if not removed.any():
        return arrays
    kept = ~removed
    row = np.cumsum(kept) - 1
    ranking = np.asarray(arrays['ranking'])
    return dict(arrays, ranking=row[ranking[kept[ranking]]],
                **{name: np.asarray(arrays[name])[kept] for name in ROW_ARRAYS})


def _check_arrays(arrays, columns):
    required = ROW_ARRAYS + ('ranking',)
    missing = [name for name in required if name not in arrays]
    if missing:
        raise ValidationException('Predictions lack %s.' % ', '.join(missing))
    rows = len(arrays['superpixel'])
    shapes_ok = (rows > 0 and columns > 0 and arrays['slide_index'].shape == (rows,)
                 and arrays['predicted'].shape == (rows,) and arrays['certainty'].shape == (rows,)
                 and arrays['probabilities'].shape == (rows, columns))
    if not shapes_ok:
        raise ValidationException('Prediction arrays disagree in length or in the number of categories.')
    if arrays['predicted'].min() < 0 or arrays['predicted'].max() >= columns:
        raise ValidationException('Predicted columns must index the %d categories.' % columns)
    ranking = np.asarray(arrays['ranking'])
    if ranking.ndim != 1 or not np.issubdtype(ranking.dtype, np.integer) or (
            len(ranking) and (ranking.min() < 0 or ranking.max() >= rows)):
        raise ValidationException('The ranking must list distinct prediction rows.')
    seen = np.zeros(rows, dtype=bool)
    seen[ranking] = True  # distinct rows mark as many as there are (np.unique sorts: 1 s for a million)
    if np.count_nonzero(seen) != len(ranking):
        raise ValidationException('The ranking must list distinct prediction rows.')
    return rows


def next_superpixels(project, user, limit, offset=0, keys=None):
    """The next ``limit`` superpixels in the current ranking (or in ``keys``, superpixel keys in the order
    wanted) after ``offset`` that ``user`` has not labeled, as :func:`prediction_rows`.

    Reads the ranking (cached per epoch) and the user's labeled keys (one document), so the cost grows
    with the page's depth and the user's label count, not with the number of superpixels."""
    window = unlabeled_keys(project, user, offset + limit, keys)
    return [] if window is None else prediction_rows(project, window[offset:offset + limit])


def unlabeled_keys(project, user, count, keys=None, labeled=None, exclude=None):
    """The first ``count`` keys of the current ranking (or of ``keys``) that ``user`` has not labeled
    (``labeled``: their labeled keys when already read) and that are not in ``exclude``; None before any
    training."""
    keys = Ranking().keys(project) if keys is None else keys
    if keys is None:
        return None
    skip = np.array(LabeledKeys().keys(project, user) if labeled is None else labeled, dtype=np.int64)
    if exclude is not None and len(exclude):
        skip = np.concatenate([skip, exclude])
    window = keys[:count + len(skip)]
    if len(skip):
        window = window[~np.isin(window, skip)]
    return window[:count]


def prediction_rows(project, keys):
    """Per superpixel key: slide, superpixel, and the current epoch's predicted category, probabilities and
    certainty (None where the slide has no predictions)."""
    slides = {s['index']: s for s in ProjectSlide().list(project)}
    result = []
    for key in np.asarray(keys).tolist():
        index, superpixel = split_key(key)
        slide = slides[index]
        arrays = Prediction().slide_arrays(project, slide)
        row = {'itemId': slide['itemId'], 'superpixel': superpixel, 'categoryId': None, 'probabilities': None,
               'certainty': None, 'bbox': superpixel_bbox(slide, superpixel)}
        if arrays is not None:
            predicted, probabilities, certainty, category_ids = arrays
            row.update(categoryId=category_ids[int(predicted[superpixel])],
                       probabilities=dict(zip(map(str, category_ids),
                                              probabilities[superpixel].astype(float).round(4).tolist())),
                       certainty=round(float(certainty[superpixel]), 5))
        result.append(row)
    return result
