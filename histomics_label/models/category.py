"""Label categories of a project.

Labels and predictions refer to categories by their stable ``_id``, never by name or list position, so a
rename touches one document and no index can drift between label and prediction lists. Merging a category
sets ``mergedInto`` (labels are not rewritten), which makes a merge undoable: unmerging clears it.
"""
import re

from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.model_base import Model

from .access import ProjectScopedAccessMixin

_COLOR = re.compile(r'^(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|rgba?\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*'
                    r'(,\s*(0|1|0?\.\d+)\s*)?\))$')
_HOTKEY = re.compile(r'^[0-9a-z]$')
PALETTE = ('#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
           '#bcbd22', '#17becf')


def usable_categories(categories):
    """Category id string -> id, for the categories a label or verdict may name (not merged away)."""
    return {str(c['_id']): c['_id'] for c in categories if c.get('mergedInto') is None}


class Category(ProjectScopedAccessMixin, Model):
    def initialize(self):
        self.name = 'histomics_label_category'
        self.ensureIndices([('projectId', {}), ([('projectId', 1), ('order', 1)], {})])
        self.exposeFields(AccessType.READ, ('_id', 'projectId', 'name', 'fillColor', 'strokeColor', 'hotkey',
                                            'excluded', 'order', 'mergedInto'))

    def validate(self, doc):
        doc['name'] = (doc.get('name') or '').strip()
        if not doc['name'] or len(doc['name']) > 100:
            raise ValidationException('A category needs a name of 1-100 characters.', 'name')
        for field in ('fillColor', 'strokeColor'):
            if not _COLOR.match(doc.get(field) or ''):
                raise ValidationException('%s must be #rrggbb[aa], rgb(...) or rgba(...).' % field, field)
        if doc.get('hotkey') is not None and not _HOTKEY.match(str(doc['hotkey'])):
            raise ValidationException('A hotkey is one lower-case letter or digit.', 'hotkey')
        doc['excluded'] = bool(doc.get('excluded'))
        clashes = self.find({'projectId': doc['projectId'], '_id': {'$ne': doc.get('_id')}})
        for other in clashes:
            if other['name'].lower() == doc['name'].lower():
                raise ValidationException('Category name %r is already used.' % doc['name'], 'name')
            if doc.get('hotkey') is not None and other.get('hotkey') == doc['hotkey']:
                raise ValidationException('Hotkey %r is already used by %r.' % (doc['hotkey'], other['name']),
                                          'hotkey')
        return doc

    def create(self, project, name, fillColor=None, strokeColor=None, hotkey=None, excluded=False):
        existing = self.find({'projectId': project['_id']}).count()
        color = fillColor or PALETTE[existing % len(PALETTE)]
        return self.save({
            'projectId': project['_id'], 'name': name, 'fillColor': color,
            'strokeColor': strokeColor or color, 'hotkey': hotkey, 'excluded': excluded,
            'order': existing, 'mergedInto': None})

    def list(self, project):
        return list(self.find({'projectId': project['_id']}, sort=[('order', 1), ('_id', 1)]))

    def columns(self, project):
        """(unmerged categories in display order, category id -> column from 0): the column order of training
        manifests and prediction arrays."""
        categories = [c for c in self.list(project) if c.get('mergedInto') is None]
        return categories, {c['_id']: index for index, c in enumerate(categories)}

    def resolve(self, categories):
        """Map every category id to the id it counts as after merges (itself when not merged)."""
        by_id = {c['_id']: c for c in categories}
        resolved = {}
        for category in categories:
            target, seen = category, set()
            while target.get('mergedInto') is not None and target['_id'] not in seen:
                seen.add(target['_id'])
                target = by_id[target['mergedInto']]
            resolved[category['_id']] = target['_id']
        return resolved

    def merge(self, category, into):
        if category['_id'] == into['_id'] or category['projectId'] != into['projectId']:
            raise ValidationException('A category merges into another category of the same project.', 'into')
        if self.resolve(self.list({'_id': category['projectId']}))[into['_id']] == category['_id']:
            raise ValidationException('%r is merged into %r already; unmerge it first.' % (
                into['name'], category['name']), 'into')
        category['mergedInto'] = into['_id']
        return self.save(category)

    def unmerge(self, category):
        category['mergedInto'] = None
        return self.save(category)
