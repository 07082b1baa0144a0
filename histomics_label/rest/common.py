"""Helpers shared by the REST endpoints: loading a project or slide with the caller's access checked."""
from bson import ObjectId
from girder.api.rest import getCurrentUser
from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.item import Item

from ..models.category import Category
from ..models.project import Project
from ..models.slide import ProjectSlide


def project_for(project_id, level=AccessType.READ):
    """The project, if the current user has ``level`` on its folder (403 otherwise, 400 if absent)."""
    return Project().load_with_access(project_id, getCurrentUser(), level)


def category_for(category_id, level):
    """A category and its project, checking ``level`` on the project's folder."""
    category = Category().load(category_id, exc=True)
    return category, project_for(category['projectId'], level)


def slide_for(project, item_id):
    """The project's slide for an item id; 400 if the item is not a slide of the project."""
    slide = ProjectSlide().for_item(project, Item().load(item_id, force=True, exc=True)['_id'])
    if slide is None:
        raise ValidationException('Item %s is not a slide of project %s.' % (item_id, project['_id']),
                                  'itemId')
    return slide


def slides_for(project, item_ids, default=lambda slide: True):
    """The project's slides named by ``item_ids`` (400 for one outside the project), or, when ``item_ids``
    is None, every slide for which ``default(slide)`` holds."""
    if item_ids is None:
        return [slide for slide in ProjectSlide().list(project) if default(slide)]
    return [slide_for(project, object_id(item_id, 'itemIds')) for item_id in item_ids]


def object_id(value, field):
    """An ObjectId from a request parameter (None stays None); 400 naming the field otherwise."""
    if value is None or value == '':
        return None
    if not ObjectId.is_valid(value):
        raise ValidationException('%s must be an id, got %r.' % (field, value), field)
    return ObjectId(value)
