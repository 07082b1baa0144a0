"""What an export reads from Girder, slide by slide and chunk by chunk: category and user names, patients and
splits, each superpixel's rater labels, verdicts and effective label (:mod:`..models.review`'s rule), the
slide's geometry, predictions, label image and embeddings.

Label and review documents are read per chunk of superpixels (an indexed range or ``$in`` query on
``projectId, itemId, superpixel``), never per project, so memory is bounded by a chunk.
"""
import collections
import datetime

import numpy as np
from girder.exceptions import FilePathException
from girder.models.file import File
from girder.models.item import Item
from girder.models.user import User
from girder_large_image.models.image_item import ImageItem
from large_image.constants import TILE_FORMAT_NUMPY

from ..core.export.files import EmbeddingRows
from ..core.export.splits import assign_splits
from ..core.label_image import BACKGROUND
from ..models.category import Category
from ..models.label import Label
from ..models.prediction import Prediction
from ..models.review import Review, effective_labels
from ..models.superpixels import SuperpixelGeometry

#: item metadata keys naming a slide's patient, first found wins; without them a slide is its own patient
PATIENT_KEYS = ('patientId', 'caseId')
LABEL_FIELDS = {'superpixel': True, 'userId': True, 'categoryId': True, 'source': True, 'epoch': True,
                'updated': True, 'x': True, 'y': True}


def patient_of(item):
    """The patient id of a slide item: ``meta.patientId``, else ``meta.caseId``, else the item id."""
    meta = item.get('meta') or {}
    for key in PATIENT_KEYS:
        if meta.get(key) not in (None, ''):
            return str(meta[key])
    return str(item['_id'])


def plan_splits(slides, items, level, ratios, seed):
    """itemId -> (patient id, split): slides, or patients (all their slides together), assigned by
    :func:`..core.export.splits.assign_splits`."""
    patients = {slide['itemId']: patient_of(items[slide['itemId']]) for slide in slides}
    unit = patients if level == 'patient' else {key: str(key) for key in patients}
    assigned = assign_splits(unit.values(), ratios, seed)
    return {key: (patients[key], assigned[unit[key]]) for key in patients}


def iso_time(value):
    """A datetime as ISO 8601 text (UTC when naive); other values as they are."""
    if isinstance(value, datetime.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)).isoformat()
    return value


class ExportContext:
    """Project-wide lookups: categories after merges (name, mask code = column + 1) and user logins."""

    def __init__(self, project):
        self.project = project
        self.categories = Category().list(project)
        self.resolve = Category().resolve(self.categories)
        self.by_id = {c['_id']: c for c in self.categories}
        columns, column = Category().columns(project)
        self.columns = columns
        self.code = {key: index + 1 for key, index in column.items()}
        self._logins = {}

    def resolved(self, category_id):
        return self.resolve.get(category_id, category_id)

    def name(self, category_id):
        """The name of the category ``category_id`` counts as after merges (None for None)."""
        if category_id is None:
            return None
        category = self.by_id.get(self.resolved(category_id))
        return category['name'] if category else None

    def login(self, user_id):
        if user_id not in self._logins:
            user = User().load(user_id, force=True, fields=['login'])
            self._logins[user_id] = user['login'] if user else None
        return self._logins[user_id]

    def records(self, project, slide, superpixels):
        """Per superpixel of ``superpixels`` (a Mongo condition on ``superpixel``) that has labels or verdicts:
        {superpixel: (effective entry, rater labels, reviews)}; raters and reviews as plain dicts."""
        return self.records_of(*self.read(project, slide['itemId'], superpixels))

    @staticmethod
    def read(project, item_id, superpixels):
        """The label (with its ``x, y``: the superpixel's centroid when labeled) and review documents of the
        superpixels ``superpixels`` (a Mongo condition) of the slide ``item_id``."""
        where = {'projectId': project['_id'], 'itemId': item_id, 'superpixel': superpixels}
        return list(Label().collection.find(where, LABEL_FIELDS)), list(Review().collection.find(where))

    def records_of(self, labels, reviews):
        """:meth:`records` of label and review documents read by :meth:`read`."""
        effective = effective_labels(labels, reviews, self.resolve)
        raters, verdicts = collections.defaultdict(list), collections.defaultdict(list)
        for label in sorted(labels, key=lambda doc: (doc['superpixel'], str(doc['userId']))):
            category = self.resolved(label['categoryId'])
            raters[label['superpixel']].append({
                'user_id': str(label['userId']), 'user_login': self.login(label['userId']),
                'category_id': str(category), 'category': self.name(category), 'source': label.get('source'),
                'epoch': label.get('epoch'), 'updated': label.get('updated')})
        for review in sorted(reviews, key=lambda doc: (doc['superpixel'], doc['time'])):
            category = self.resolved(review['categoryId']) if review.get('categoryId') is not None else None
            verdicts[review['superpixel']].append({
                'reviewer_id': str(review['reviewerId']), 'reviewer_login': self.login(review['reviewerId']),
                'verdict': review['verdict'], 'category_id': str(category) if category else None,
                'category': self.name(category), 'comment': review.get('comment') or '', 'time': review['time']})
        return {sp: (entry, raters.get(sp, []), verdicts.get(sp, [])) for sp, entry in effective.items()}

    def label_columns(self, records):
        """The table columns of the effective label, rater labels and verdicts, one value per record
        (``(effective entry or None, raters, reviews)``)."""
        effective = [record[0] or {} for record in records]
        return {
            'label': [self.name(e.get('categoryId')) for e in effective],
            'label_id': [str(e['categoryId']) if e.get('categoryId') else None for e in effective],
            'label_rule': [e.get('rule') for e in effective], 'raters': [e.get('raters', 0) for e in effective],
            'agreement': [e.get('agreement') for e in effective],
            'flagged': [e.get('flagged', False) for e in effective],
            'rater_labels': [record[1] for record in records], 'reviews': [record[2] for record in records]}

    def properties(self, record):
        """GeoJSON / COCO properties of one record: effective label, rule, agreement, raters and reviews."""
        entry, raters, reviews = record
        category = self.by_id.get(entry['categoryId'])
        return {
            'category': category['name'] if category else None,
            'categoryId': str(entry['categoryId']) if entry['categoryId'] else None,
            'classification': {'name': category['name'], 'color': category['fillColor']} if category else None,
            'rule': entry['rule'], 'agreement': entry['agreement'], 'flagged': entry['flagged'],
            'raters': [dict(r, updated=iso_time(r['updated'])) for r in raters],
            'reviews': [dict(r, time=iso_time(r['time'])) for r in reviews]}


def _decode(rgb):
    """Superpixel ids (int32, -1 outside any) of a pixelmap region (see :mod:`..core.label_image`)."""
    value = rgb[..., 2].astype(np.int32)  # one int32 array, built in place: regions can be large
    value <<= 8
    value |= rgb[..., 1]
    value <<= 8
    value |= rgb[..., 0]
    outside = value == BACKGROUND
    value >>= 1
    value[outside] = -1
    return value


class SlideSource:
    """One segmented slide as an export reads it: geometry, predictions, label image, base size and
    magnification, embeddings."""

    def __init__(self, project, slide):
        self.project, self.slide = project, slide
        self.centroids, self.bboxes = SuperpixelGeometry().geometry(slide)
        self.count = len(self.bboxes)
        self.predictions = Prediction().slide_arrays(project, slide)
        self.scale = float(slide['segmentation'].get('scale') or 1)
        meta = ImageItem().getMetadata(Item().load(slide['itemId'], force=True))
        self.base_size = (int(meta['sizeX']), int(meta['sizeY']))
        self.magnification = meta.get('magnification') or project['settings']['magnification'] * self.scale
        self.mm_per_pixel = meta.get('mm_x')
        label_item_id = slide['segmentation'].get('labelItemId')
        self._labels = ImageItem().tileSource(Item().load(label_item_id, force=True)) if label_item_id else None
        if self._labels is not None:
            labels_meta = self._labels.getMetadata()
            self.label_size = (int(labels_meta['sizeX']), int(labels_meta['sizeY']))

    @property
    def has_label_image(self):
        return self._labels is not None

    def read_labels(self, x0, y0, x1, y1):
        """Superpixel ids of a label-image region (exclusive ends)."""
        rgb, _ = self._labels.getRegion(region={'left': x0, 'top': y0, 'right': x1, 'bottom': y1},
                                        format=TILE_FORMAT_NUMPY)
        return _decode(np.asarray(rgb))

    def embeddings(self):
        """:class:`..core.export.files.EmbeddingRows` of the slide's features file, or None without one."""
        file_id = (self.slide.get('features') or {}).get('fileId')
        if not file_id:
            return None
        file = File().load(file_id, force=True)
        try:
            return EmbeddingRows(File().getLocalFilePath(file))
        except FilePathException:  # not on a filesystem assetstore: read through Girder (h5py takes a file object)
            return EmbeddingRows(File().open(file))

    def prediction_columns(self, context, start, stop):
        """Predicted category (name, id), certainty and probabilities of superpixels ``start..stop-1``."""
        size = stop - start
        if self.predictions is None:
            return {name: [None] * size for name in ('predicted', 'predicted_id', 'certainty', 'probabilities')}
        predicted, probabilities, certainty, category_ids = self.predictions
        ids = [context.resolved(c) for c in category_ids]
        chosen = [ids[int(column)] for column in predicted[start:stop]]
        return {'predicted': [context.name(c) for c in chosen], 'predicted_id': [str(c) for c in chosen],
                'certainty': certainty[start:stop], 'probabilities': list(probabilities[start:stop].astype(np.float32))}
