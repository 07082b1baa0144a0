"""Helpers shared by the REST endpoints: the project's slides a request names."""
from girder.exceptions import ValidationException

from ..models.slide import ProjectSlide
from .validation import object_id


def slide_for(project, item_id, field='itemId'):
    """The project's slide for an item id (an ObjectId, as the validation layer passes it); 400 naming
    ``field`` if the item is not a slide of the project."""
    slide = ProjectSlide().for_item(project, item_id) if item_id is not None else None
    if slide is None:
        raise ValidationException('Item %s is not a slide of project %s.' % (item_id, project['_id']), field)
    return slide


def slides_for(project, item_ids, default=lambda slide: True):
    """The project's slides named by ``item_ids`` (a validated JSON list of ids; 400 for one outside the
    project), or, when ``item_ids`` is None, every slide for which ``default(slide)`` holds."""
    if item_ids is None:
        return [slide for slide in ProjectSlide().list(project) if default(slide)]
    return [slide_for(project, object_id(item_id, 'itemIds'), 'itemIds') for item_id in item_ids]
