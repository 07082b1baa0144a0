"""Reviewer verdicts on labeled superpixels, and the effective label they lead to.

Effective label rule (docs/labels.md), for one superpixel, after resolving category merges:
1. adjudicated: the most recent reviewer verdict that names a category ("agree" with a category, or
   "correct" to one) wins;
2. otherwise consensus: the category chosen by a strict majority of the labelers (more than half);
3. otherwise, with a single labeler, that single label;
4. otherwise the superpixel is disputed and has no effective label. A "flag" verdict never sets a label:
   it marks the superpixel for attention and is reported as ``flagged``.
"""
import collections
import datetime

from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.model_base import Model
from pymongo import UpdateOne

from .category import Category, usable_categories
from .label import Label, document_key
from .superpixels import check_superpixel

VERDICTS = ('agree', 'correct', 'flag')


class Review(Model):
    def initialize(self):
        self.name = 'histomics_label_review'
        self.ensureIndices([
            ([('projectId', 1), ('itemId', 1), ('superpixel', 1)], {}),
            ([('projectId', 1), ('reviewerId', 1)], {}),
        ])
        self.exposeFields(AccessType.READ, ('_id', 'projectId', 'itemId', 'superpixel', 'reviewerId', 'verdict',
                                            'categoryId', 'comment', 'time'))

    def validate(self, doc):
        return doc

    def write(self, project, slide, reviewer, reviews, categories):
        """Validate all, then upsert the reviewer's verdicts ([{superpixel, verdict, categoryId?, comment?}])."""
        count = slide.get('superpixelCount')
        if not count:
            raise ValidationException('Slide %s has no superpixels yet.' % slide['itemId'], 'itemId')
        if not isinstance(reviews, list) or not reviews:
            raise ValidationException('reviews must be a non-empty list.', 'reviews')
        usable = usable_categories(categories)
        now = datetime.datetime.now(datetime.timezone.utc)
        operations = []
        for entry in reviews:
            if not isinstance(entry, dict) or entry.get('verdict') not in VERDICTS:
                raise ValidationException('Each review needs a verdict: %s.' % ', '.join(VERDICTS), 'reviews')
            superpixel = check_superpixel(entry.get('superpixel'), count, 'reviews')
            category = entry.get('categoryId')
            if entry['verdict'] == 'flag':
                category = None
            elif str(category) not in usable:
                raise ValidationException('A %s verdict needs a known, unmerged categoryId.' % entry['verdict'],
                                          'reviews')
            else:
                category = usable[str(category)]
            comment = str(entry.get('comment') or '')[:2000]
            where = {'_id': document_key(project['_id'], slide['itemId'], superpixel, reviewer['_id'])}
            operations.append(UpdateOne(where, {
                '$set': {'verdict': entry['verdict'], 'categoryId': category, 'comment': comment, 'time': now},
                '$setOnInsert': {'projectId': project['_id'], 'itemId': slide['itemId'],
                                 'superpixel': superpixel, 'reviewerId': reviewer['_id']}}, upsert=True))
        self.collection.bulk_write(operations, ordered=False)
        return len(operations)


def slide_effective_labels(project, item_id, resolve=None):
    """The effective labels of one slide of a project (the rule above), after category merges:
    {superpixel: {categoryId, rule, raters, agreement, flagged}}."""
    if resolve is None:
        resolve = Category().resolve(Category().list(project))
    where = {'projectId': project['_id'], 'itemId': item_id}
    return effective_labels(Label().find(where), Review().find(where), resolve)


def effective_labels(labels, reviews, resolve):
    """Apply the rule above. ``labels``/``reviews`` are documents of one slide; ``resolve`` maps a category
    id to its id after merges. Returns {superpixel: {categoryId, rule, raters, agreement, flagged}}."""
    votes = collections.defaultdict(list)
    for label in labels:
        votes[label['superpixel']].append(resolve.get(label['categoryId'], label['categoryId']))
    verdicts = collections.defaultdict(list)
    for review in reviews:
        verdicts[review['superpixel']].append(review)
    result = {}
    for superpixel in set(votes) | set(verdicts):
        raters = votes.get(superpixel, [])
        counts = collections.Counter(raters)
        top, top_count = counts.most_common(1)[0] if counts else (None, 0)
        entry = {'raters': len(raters), 'agreement': top_count / len(raters) if raters else None,
                 'flagged': any(r['verdict'] == 'flag' for r in verdicts.get(superpixel, []))}
        decided = sorted((r for r in verdicts.get(superpixel, []) if r['categoryId'] is not None),
                         key=lambda r: r['time'])
        if decided:
            entry.update(categoryId=resolve.get(decided[-1]['categoryId'], decided[-1]['categoryId']),
                         rule='adjudicated')
        elif len(raters) == 1:
            entry.update(categoryId=top, rule='single')
        elif raters and top_count * 2 > len(raters):
            entry.update(categoryId=top, rule='consensus')
        else:
            entry.update(categoryId=None, rule='disputed' if raters else 'flagged')
        result[superpixel] = entry
    return result
