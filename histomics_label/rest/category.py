"""``/histomics_label/project/{id}/category`` and ``/histomics_label/category/{id}``."""
from girder.api import access
from girder.api.rest import filtermodel
from girder.constants import AccessType
from girder.exceptions import ValidationException

from ..models.category import Category
from ..models.label import Label
from ..models.review import Review
from ..models.study import RUN
from .validation import Description, autoDescribeRoute

EDITABLE = ('name', 'fillColor', 'strokeColor', 'hotkey', 'excluded', 'order')


def _category_params(description, required_name):
    return (description
            .param('name', 'Unique name within the project.', required=required_name)
            .param('fillColor', 'Fill colour: #rrggbb[aa], rgb() or rgba().', required=False)
            .param('strokeColor', 'Outline colour (defaults to the fill colour).', required=False)
            .param('hotkey', 'One lower-case letter or digit that applies this category.', required=False)
            .boolParam('excluded', 'Exclude from training.'))


class CategoryEndpoints:
    def __init__(self, root):
        root.route('GET', ('project', ':id', 'category'), self.find)
        root.route('POST', ('project', ':id', 'category'), self.create)
        root.route('PUT', ('category', ':id'), self.update)
        root.route('POST', ('category', ':id', 'merge'), self.merge)
        root.route('POST', ('category', ':id', 'unmerge'), self.unmerge)
        root.route('DELETE', ('category', ':id'), self.delete)

    @access.user
    @filtermodel(Category)
    @autoDescribeRoute(
        Description('List a project\'s categories in display order; merged ones carry mergedInto.')
        .projectParam(AccessType.READ)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def find(self, project):
        return Category().list(project)

    @access.user
    @filtermodel(Category)
    @autoDescribeRoute(
        _category_params(Description('Add a category (needs write access on the project folder).')
                         .projectParam(AccessType.WRITE, capability=RUN), True)
        .errorResponse('Invalid or duplicate name, colour or hotkey.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def create(self, project, name, fillColor, strokeColor, hotkey, excluded):
        return Category().create(project, name, fillColor, strokeColor, hotkey, bool(excluded))

    @access.user
    @filtermodel(Category)
    @autoDescribeRoute(
        _category_params(Description('Rename, recolour, set the hotkey, order or training exclusion of a '
                                     'category. Labels refer to the id, so nothing else is rewritten.')
                         .modelParam('id', 'The category id.', model=Category, level=AccessType.WRITE,
                                     destName='category').capability(RUN), False)
        .intParam('order', 'Display position.', minimum=0, maximum=10000, required=False)
        .errorResponse('Invalid or duplicate name, colour or hotkey.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def update(self, category, **fields):
        for key in EDITABLE:
            if fields.get(key) is not None:
                category[key] = fields[key]
        if fields.get('hotkey') == '':
            category['hotkey'] = None
        return Category().save(category)

    @access.user
    @filtermodel(Category)
    @autoDescribeRoute(
        Description('Merge a category into another: its labels count as the other\'s from now on, without '
                    'being rewritten, so the merge can be undone (needs admin access).')
        .modelParam('id', 'The category to merge away.', model=Category, level=AccessType.ADMIN,
                    destName='category')
        .modelParam('into', 'The category id that absorbs it.', model=Category, level=AccessType.ADMIN,
                    paramType='query', destName='target')
        .errorResponse('Merging into itself, another project\'s or a cycle.', 400)
        .errorResponse('Admin access was denied on the project folder.', 403)
    )
    def merge(self, category, target):
        return Category().merge(category, target)

    @access.user
    @filtermodel(Category)
    @autoDescribeRoute(
        Description('Undo a merge: the category and its labels stand on their own again.')
        .modelParam('id', 'The category id.', model=Category, level=AccessType.ADMIN, destName='category')
        .errorResponse('Admin access was denied on the project folder.', 403)
    )
    def unmerge(self, category):
        return Category().unmerge(category)

    @access.user
    @autoDescribeRoute(
        Description('Delete a category nobody has used; a used one must be merged instead.')
        .modelParam('id', 'The category id.', model=Category, level=AccessType.ADMIN, destName='category')
        .errorResponse('The category has labels or reviews, or others are merged into it.', 400)
        .errorResponse('Admin access was denied on the project folder.', 403)
    )
    def delete(self, category):
        used = (Label().findOne({'categoryId': category['_id']}) or
                Review().findOne({'categoryId': category['_id']}) or
                Category().findOne({'mergedInto': category['_id']}))
        if used:
            raise ValidationException('Category %r is in use; merge it into another instead.' % category['name'],
                                      'id')
        Category().remove(category)
        return {'message': 'Deleted category %s.' % category['_id']}
