"""The review grid: labeled superpixels with every rater's label, the verdicts, the effective label and the
current prediction, filtered, sorted and paged on the server.

Labels are grouped per superpixel by the database (one ``$group``); only the groups of the requested slide (or
all) come to Python, where the effective-label rule (:mod:`..models.review`) and the filters apply.

The adjudication queue is this grid filtered by ``issue`` and sorted by ``confidence``: each row lists its
``issues``: ``disagreement`` (its raters chose different categories), ``model`` (a prediction at least
``confident_at`` sure names another category than the effective label: a likely label error) and ``flagged``;
an adjudicated row has none.
"""
import collections

from ..models.category import Category
from ..models.label import Label
from ..models.prediction import Prediction
from ..models.review import Review, effective_labels
from ..models.slide import ProjectSlide
from ..models.superpixels import superpixel_bbox

SORTS = ('disputed', 'recent', 'uncertain', 'confidence', 'slide')
ISSUES = ('all', 'any', 'disagreement', 'model', 'flagged')
AGREEMENT = ('all', 'agree', 'disagree')
REVIEWED = ('any', 'yes', 'no')


def _groups(project, item_id):
    match = {'projectId': project['_id']}
    if item_id is not None:
        match['itemId'] = item_id
    return Label().collection.aggregate([
        {'$match': match},
        {'$group': {'_id': {'itemId': '$itemId', 'superpixel': '$superpixel'},
                    'labels': {'$push': {'userId': '$userId', 'categoryId': '$categoryId', 'updated': '$updated'}},
                    'updated': {'$max': '$updated'}}}])


def _reviews(project, item_id):
    match = {'projectId': project['_id']}
    if item_id is not None:
        match['itemId'] = item_id
    grouped = collections.defaultdict(list)
    for review in Review().collection.find(match):
        grouped[(review['itemId'], review['superpixel'])].append(review)
    return grouped


def _prediction(project, slide, superpixel, resolve):
    arrays = Prediction().slide_arrays(project, slide) if slide else None
    if arrays is None or superpixel >= len(arrays[0]):
        return None
    predicted, probabilities, certainty, category_ids = arrays
    category = category_ids[int(predicted[superpixel])]
    return {'categoryId': resolve.get(category, category), 'certainty': round(float(certainty[superpixel]), 4),
            'confidence': round(float(probabilities[superpixel].max()), 4)}


def _issues(row, confident_at):
    """What makes a row need adjudication (nothing once it is adjudicated)."""
    if row['rule'] == 'adjudicated':
        return []
    predicted = row['predicted'] or {}
    model = (row['categoryId'] is not None and predicted.get('confidence', 0) >= confident_at and
             predicted['categoryId'] != row['categoryId'])
    found = (('disagreement', len({label['categoryId'] for label in row['labels']}) > 1), ('model', model),
             ('flagged', row['flagged']))
    return [name for name, present in found if present]


def _keep(row, filters):
    """Whether a row passes the filters (ids already ObjectIds; None means no filter)."""
    if filters.get('categoryId') is not None and row['categoryId'] != filters['categoryId']:
        return False
    if filters.get('labelerId') is not None and not any(
            label['userId'] == filters['labelerId'] for label in row['labels']):
        return False
    if filters.get('reviewerId') is not None and not any(
            review['reviewerId'] == filters['reviewerId'] for review in row['reviews']):
        return False
    predicted = (row['predicted'] or {}).get('categoryId')
    if filters.get('predictedId') is not None and predicted != filters['predictedId']:
        return False
    agreement = filters.get('agreement', 'all')
    unanimous = len({label['categoryId'] for label in row['labels']}) <= 1
    if (agreement == 'agree' and not unanimous) or (agreement == 'disagree' and unanimous):
        return False
    issue = filters.get('issue', 'all')
    if (issue == 'any' and not row['issues']) or (issue not in ('all', 'any') and issue not in row['issues']):
        return False
    reviewed = filters.get('reviewed', 'any')
    return reviewed == 'any' or (reviewed == 'yes') == bool(row['reviews'])


_SORT_KEYS = {
    'disputed': lambda row: (row['rule'] != 'disputed', not row['flagged'], row['agreement'] or 0,
                             -row['updated'].timestamp()),
    'recent': lambda row: -row['updated'].timestamp(),
    'uncertain': lambda row: (row['predicted'] or {}).get('certainty', 2.0),
    'confidence': lambda row: (-(row['predicted'] or {}).get('confidence', -1.0), row['slideIndex'],
                               row['superpixel']),
    'slide': lambda row: (row['slideIndex'], row['superpixel']),
}


def review_queue(project, filters, sort='disputed', limit=50, offset=0, confident_at=0.9):
    """{total, rows} of labeled superpixels passing ``filters`` (itemId, categoryId (effective), labelerId,
    reviewerId, predictedId, agreement, reviewed, issue), in ``sort`` order, one page."""
    categories = Category().list(project)
    resolve = Category().resolve(categories)
    slides = {slide['itemId']: slide for slide in ProjectSlide().list(project)}
    reviews = _reviews(project, filters.get('itemId'))
    rows = []
    for group in _groups(project, filters.get('itemId')):
        key = (group['_id']['itemId'], group['_id']['superpixel'])
        labels = [dict(label, categoryId=resolve.get(label['categoryId'], label['categoryId']))
                  for label in group['labels']]
        effective = effective_labels(
            [dict(label, superpixel=key[1]) for label in labels], reviews.get(key, []), resolve)[key[1]]
        slide = slides.get(key[0])
        row = dict(effective, itemId=key[0], superpixel=key[1], labels=labels, updated=group['updated'],
                   reviews=[{field: review.get(field) for field in
                             ('reviewerId', 'verdict', 'categoryId', 'comment', 'time')} for review in reviews.get(key, [])],
                   predicted=_prediction(project, slide, key[1], resolve),
                   slideIndex=slide['index'] if slide else -1)
        row['issues'] = _issues(row, confident_at)
        if _keep(row, filters):
            rows.append(row)
    rows.sort(key=_SORT_KEYS[sort])
    page = rows[offset:offset + limit] if limit else rows[offset:]
    for row in page:
        row.pop('slideIndex')
        row.pop('updated')
        slide = slides.get(row['itemId'])
        row['bbox'] = superpixel_bbox(slide, row['superpixel']) if slide else None
    return {'total': len(rows), 'rows': page}
