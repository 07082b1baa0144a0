"""``/histomics_label/project``: create projects from folders of slides, read, update, delete, status."""
from girder.api import access
from girder.api.rest import filtermodel, getCurrentUser
from girder.constants import AccessType
from girder.models.folder import Folder

from ..models.guardrails import Guardrails
from ..models.project import SETTINGS, Project
from ..models.slide import ProjectSlide
from ..models.status import project_status
from ..models.study import RUN, Study
from .validation import Description, autoDescribeRoute

SETTINGS_HELP = 'JSON object of settings: ' + '; '.join(
    '%s (%s, default %r): %s' % (key, kind.__name__, default, text)
    for key, (kind, default, _, text) in SETTINGS.items())


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
    @filtermodel(Project)
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
        project = Project().create(folder, getCurrentUser(), name or folder['name'], settings)
        ProjectSlide().sync(project, folder)
        return project

    @access.user
    @filtermodel(Project)
    @autoDescribeRoute(
        Description('List the projects whose folder you can read, oldest first.')
        .intParam('limit', 'Maximum number of projects (0 for all).', minimum=0, maximum=10000, required=False,
                  default=50)
        .intParam('offset', 'Number of projects to skip.', minimum=0, required=False, default=0)
        .idParam('folderId', 'Only the project on this folder (a list of at most one).', required=False)
        .errorResponse('limit, offset or folderId out of range.', 400)
        .errorResponse('You must be logged in.', 401)
    )
    def find(self, limit, offset, folderId):
        return list(Project().find_readable(getCurrentUser(), limit, offset, folderId))

    @access.user
    @filtermodel(Project)
    @autoDescribeRoute(
        Description('Get a project.')
        .projectParam(AccessType.READ)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def get(self, project):
        return project

    @access.user
    @filtermodel(Project)
    @autoDescribeRoute(
        Description('Change a project\'s name or settings (needs admin access on its folder).')
        .projectParam(AccessType.ADMIN)
        .param('name', 'New name.', required=False)
        .jsonParam('settings', 'Settings to change. ' + SETTINGS_HELP, required=False, requireObject=True)
        .errorResponse('Invalid settings.', 400)
        .errorResponse('Admin access was denied on the project folder.', 403)
    )
    def update(self, project, name, settings):
        return Project().update_settings(project, settings or {}, name)

    @access.user
    @autoDescribeRoute(
        Description('Delete a project with its categories, reviews, predictions and derived data; the slides '
                    'stay. A project with labels is deleted only with deleteLabels=true: labels are never '
                    'deleted silently.')
        .projectParam(AccessType.ADMIN)
        .boolParam('deleteLabels', 'Also delete every label and the label history.', default=False)
        .errorResponse('The project has labels and deleteLabels is not true.', 400)
        .errorResponse('Admin access was denied on the project folder.', 403)
    )
    def delete(self, project, deleteLabels):
        Project().remove(project, delete_labels=deleteLabels)
        return {'message': 'Deleted project %s.' % project['_id']}

    @access.user
    @autoDescribeRoute(
        Description('Per-slide progress of a project: segmented, featurized, labeled counts, predicted epoch.')
        .projectParam(AccessType.READ)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def status(self, project):
        user = getCurrentUser()
        status = dict(project_status(project, user), training=Project().filter(project, user).get('training'),
                      guardrails=Guardrails().status(project, user))
        if Study().blinded(project, user):  # how much everyone labeled is hidden from blinded raters
            for entry in status['slides'] + [status['totals']]:
                entry['labeled'] = None
        return status

    @access.user
    @filtermodel(ProjectSlide)
    @autoDescribeRoute(
        Description('Add the large images that were put in the project folder since it was created; returns '
                    'the slides added.')
        .projectParam(AccessType.WRITE, capability=RUN)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def sync_slides(self, project):
        return ProjectSlide().sync(project, Project().folder(project))
