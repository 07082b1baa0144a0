"""``/histomics_label/project/{id}/study``, ``assignment``, ``queue`` and ``dashboard``: annotation studies
(roles, blinding, routing, assignments of slides to raters, each rater's queue and the lead's dashboard)."""
import numpy as np
from girder.api import access
from girder.api.rest import filtermodel, getCurrentUser
from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.user import User

from ..models.assignment import MAX_QUOTA, SAMPLINGS, Assignment
from ..models.study import LABEL, MANAGE, MONITOR, OPTIONS, ROLES, Study
from ..services.dashboard import MAX_HOURS, dashboard
from ..services.study_queue import my_queue
from .common import slides_for
from .validation import ID_LIST, OBJECT_ID, Description, autoDescribeRoute, object_id

STUDY_BODY = {
    'type': 'object', 'additionalProperties': False, 'properties': {
        'roles': {'type': 'object', 'propertyNames': {'pattern': OBJECT_ID['pattern']}, 'additionalProperties': {
            'type': 'array', 'uniqueItems': True, 'items': {'enum': list(ROLES)}}},
        'blinded': {'type': 'boolean'}, 'routing': {'type': 'boolean'},
        'confidentAt': {'type': 'number', 'minimum': 0.5, 'maximum': 1}}}
ASSIGNMENT_BODY = {
    'type': 'object', 'required': ['userIds', 'overlap', 'quota'], 'additionalProperties': False, 'properties': {
        'name': {'type': 'string', 'minLength': 1, 'maxLength': 200},
        'itemIds': dict(ID_LIST, minItems=1),
        'userIds': dict(ID_LIST, minItems=1, maxItems=1000, uniqueItems=True),
        'overlap': {'type': 'integer', 'minimum': 1},
        'quota': {'type': 'integer', 'minimum': 1, 'maximum': MAX_QUOTA},
        'sampling': {'enum': list(SAMPLINGS)},
        'seed': {'type': 'integer', 'minimum': 0, 'maximum': 2 ** 31 - 1}}}


def _raters(project, user_ids):
    """The users of an assignment: each must be able to label in the project (400 naming the first who
    cannot)."""
    users = []
    for user_id in user_ids:
        user = User().load(object_id(user_id, 'userIds'), force=True)
        if user is None:
            raise ValidationException('Unknown user %s.' % user_id, 'userIds')
        caller = Study().caller(project, user)
        if LABEL not in caller.capabilities:
            raise ValidationException('User %s cannot label in project %s (roles: %s); give them %s first.' % (
                user['login'], project['name'], ', '.join(caller.roles) or 'none',
                'a trainee or expert role' if Study().get(project)['roles'] else 'write access'), 'userIds')
        users.append(user['_id'])
    return users


class StudyEndpoints:
    def __init__(self, root):
        root.route('GET', ('project', ':id', 'study'), self.get)
        root.route('PUT', ('project', ':id', 'study'), self.update)
        root.route('GET', ('project', ':id', 'assignment'), self.assignments)
        root.route('POST', ('project', ':id', 'assignment'), self.assign)
        root.route('DELETE', ('project', ':id', 'assignment', ':assignmentId'), self.unassign)
        root.route('GET', ('project', ':id', 'queue'), self.queue)
        root.route('GET', ('project', ':id', 'dashboard'), self.dashboard)

    @access.user
    @autoDescribeRoute(
        Description('The project\'s study: options (blinded, routing, confidentAt), members with their roles, '
                    'and your own roles, capabilities and whether you are blinded.')
        .projectParam(AccessType.READ)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def get(self, project):
        return Study().describe(project, getCurrentUser())

    @access.user
    @autoDescribeRoute(
        Description('Change roles and options of the project\'s study. roles maps user ids to their roles (%s; '
                    'an empty list removes the user); a project with at least one role is role-managed. '
                    'Options: %s.' % (', '.join(ROLES), '; '.join('%s (%s): %s' % (key, kind.__name__, text)
                                                                 for key, (kind, _, _, text) in OPTIONS.items())))
        .projectParam(AccessType.WRITE, capability=MANAGE)
        .jsonParam('body', 'JSON object: {"roles": {userId: [roles]}, "blinded": bool, "routing": bool, '
                   '"confidentAt": number}, every key optional.', paramType='body', schema=STUDY_BODY)
        .errorResponse('Unknown user, a user without write access on the folder, or a bad option.', 400)
        .errorResponse('Only leads and folder admins manage a study.', 403)
    )
    def update(self, project, body):
        body = dict(body)
        Study().update(project, body.pop('roles', None), **body)
        return Study().describe(project, getCurrentUser())

    @access.user
    @filtermodel(Assignment)
    @autoDescribeRoute(
        Description('The project\'s assignments, oldest first: raters per slide, overlap, quota, sampling.')
        .projectParam(AccessType.READ)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def assignments(self, project):
        return Assignment().list(project)

    @access.user
    @filtermodel(Assignment)
    @autoDescribeRoute(
        Description('Assign slides to raters: each slide gets `overlap` of the raters (balanced over them) and '
                    'one sample of at most `quota` superpixels that all of its raters label (random with '
                    '`seed`, or `uncertain`: the top of the current ranking).')
        .projectParam(AccessType.WRITE, capability=MANAGE)
        .jsonParam('body', 'JSON object: {"name", "itemIds" (default: every segmented slide), "userIds", '
                   '"overlap", "quota", "sampling" (%s; default random), "seed"}.' % ', '.join(SAMPLINGS),
                   paramType='body', schema=ASSIGNMENT_BODY)
        .errorResponse('Unknown or unsegmented slide, a user who cannot label, overlap above the raters, or '
                       'no predictions to sample by uncertainty.', 400)
        .errorResponse('Only leads and folder admins manage a study.', 403)
    )
    def assign(self, project, body):
        slides = slides_for(project, body.get('itemIds'), lambda slide: bool(slide.get('superpixelCount')))
        users = _raters(project, body['userIds'])
        seed = body.get('seed')
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2 ** 31 - 1))
        name = body.get('name') or 'Assignment %d' % (len(Assignment().list(project)) + 1)
        return Assignment().create(project, getCurrentUser(), name, slides, users, body['overlap'],
                                   body['quota'], body.get('sampling', 'random'), seed)

    @access.user
    @autoDescribeRoute(
        Description('Delete an assignment (the labels made for it stay).')
        .projectParam(AccessType.WRITE, capability=MANAGE)
        .idParam('assignmentId', 'The assignment id.', paramType='path')
        .errorResponse('The assignment is not one of the project.', 400)
        .errorResponse('Only leads and folder admins manage a study.', 403)
    )
    def unassign(self, project, assignmentId):
        assignment = Assignment().findOne({'_id': assignmentId, 'projectId': project['_id']})
        if assignment is None:
            raise ValidationException('Assignment %s is not one of project %s.' % (assignmentId, project['_id']),
                                      'assignmentId')
        Assignment().remove(assignment)
        return {'message': 'Deleted assignment %s.' % assignmentId}

    @access.user
    @autoDescribeRoute(
        Description('Your queue: the superpixels assigned to you that you have not labeled yet, in order (rows '
                    'as GET next gives them; no predictions when the study is blinded), with your progress.')
        .projectParam(AccessType.READ)
        .intParam('limit', 'How many rows.', minimum=0, maximum=1000, required=False, default=20)
        .intParam('offset', 'Rows of the queue to skip.', minimum=0, required=False, default=0)
        .errorResponse('limit or offset out of range.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def queue(self, project, limit, offset):
        return my_queue(project, getCurrentUser(), limit, offset)

    @access.user
    @autoDescribeRoute(
        Description('The study dashboard: per user (labels, labeling actions per active hour, assignment '
                    'progress), per slide (labels, raters, progress), per category (labels after merges) and '
                    'labeling actions per hour, from counters kept by the label writes.')
        .projectParam(AccessType.READ, capability=MONITOR)
        .intParam('hours', 'Hourly buckets of the timeline, up to now.', minimum=1, maximum=MAX_HOURS,
                  required=False, default=24)
        .boolParam('rebuild', 'Recount the counters from the label history first (leads and folder admins).',
                   default=False)
        .errorResponse('hours out of range.', 400)
        .errorResponse('Blinded raters, and in a project with roles all but leads and reviewers, may not see '
                       'the dashboard.', 403)
    )
    def dashboard(self, project, hours, rebuild):
        if rebuild:
            Study().require(project, getCurrentUser(), MANAGE)
        return dashboard(project, hours, rebuild)
