"""``/histomics_label/project``: create projects from folders of slides, read, update, delete, status."""
from girder.api import access
from girder.api.describe import Description, autoDescribeRoute
from girder.api.rest import getCurrentUser
from girder.constants import AccessType
from girder.models.folder import Folder

from ..models.project import SETTINGS, Project
from ..models.slide import ProjectSlide
from ..models.status import project_status
from .common import project_for

SETTINGS_HELP = 'JSON object of settings: ' + '; '.join(
    '%s (%s, default %r): %s' % (key, kind.__name__, default, text)
    for key, (kind, default, _, text) in SETTINGS.items())


def _describe(project, user):
    return dict(project, _accessLevel=Project().access_level(project, user))


class ProjectEndpoints:
    def __init__(self, root):
        root.route('POST', ('project',), self.create)
        root.route('GET', ('project',), self.find)
        root.route('GET', ('project', ':id'), self.get)
        root.route('PUT', ('project', ':id'), self.update)
        root.route('DELETE', ('project', ':id'), self.delete)
        root.route('GET', ('project', ':id', 'status'), self.status)
        root.route('POST', ('project', ':id', 'slides'), self.sync_slides)

    @access.user
    @autoDescribeRoute(
        Description('Create a labeling project from a folder of slides (needs admin access on the folder).')
        .modelParam('folderId', 'The folder holding the slides.', model=Folder, level=AccessType.ADMIN,
                    paramType='formData', destName='folder')
        .param('name', 'Project name (defaults to the folder name).', required=False)
        .jsonParam('settings', SETTINGS_HELP, required=False, requireObject=True)
        .errorResponse('Invalid settings or the folder already holds a project.', 400)
        .errorResponse('You must be logged in.', 401)
        .errorResponse('Admin access was denied on the folder.', 403)
    )
    def create(self, folder, name, settings):
        user = getCurrentUser()
        project = Project().create(folder, user, name or folder['name'], settings)
        ProjectSlide().sync(project, folder)
        return _describe(project, user)

    @access.user
    @autoDescribeRoute(
        Description('List the projects whose folder you can read.')
        .param('limit', 'Maximum number of projects (0 for all).', dataType='integer', required=False,
               default=50)
        .param('offset', 'Number of projects to skip.', dataType='integer', required=False, default=0)
        .errorResponse('You must be logged in.', 401)
    )
    def find(self, limit, offset):
        user = getCurrentUser()
        return [_describe(p, user) for p in Project().find_readable(user, limit, offset)]

    @access.user
    @autoDescribeRoute(
        Description('Get a project.')
        .param('id', 'The project id.', paramType='path')
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def get(self, id):
        return _describe(project_for(id), getCurrentUser())

    @access.user
    @autoDescribeRoute(
        Description('Change a project\'s name or settings (needs admin access on its folder).')
        .param('id', 'The project id.', paramType='path')
        .param('name', 'New name.', required=False)
        .jsonParam('settings', 'Settings to change. ' + SETTINGS_HELP, required=False, requireObject=True)
        .errorResponse('Invalid settings.', 400)
        .errorResponse('Admin access was denied on the project folder.', 403)
    )
    def update(self, id, name, settings):
        project = project_for(id, AccessType.ADMIN)
        return _describe(Project().update_settings(project, settings or {}, name), getCurrentUser())

    @access.user
    @autoDescribeRoute(
        Description('Delete a project with its categories, labels, reviews and predictions; the slides stay.')
        .param('id', 'The project id.', paramType='path')
        .errorResponse('Admin access was denied on the project folder.', 403)
    )
    def delete(self, id):
        Project().remove(project_for(id, AccessType.ADMIN))
        return {'message': 'Deleted project %s.' % id}

    @access.user
    @autoDescribeRoute(
        Description('Per-slide progress of a project: segmented, featurized, labeled counts, predicted epoch.')
        .param('id', 'The project id.', paramType='path')
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def status(self, id):
        return project_status(project_for(id), getCurrentUser())

    @access.user
    @autoDescribeRoute(
        Description('Add the large images that were put in the project folder since it was created.')
        .param('id', 'The project id.', paramType='path')
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def sync_slides(self, id):
        project = project_for(id, AccessType.WRITE)
        return ProjectSlide().sync(project, Project().folder(project))
