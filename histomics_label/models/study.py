"""Annotation studies: roles per project, the study options (blinding, routing) and what each role may do.

Roles narrow the project folder's ACL, they never widen it: every route still needs its folder level, and in a
project with roles the caller also needs a role that grants the route's capability. A project without roles
keeps the plain ACL behaviour (folder write = label, review and run the pipeline; folder admin = manage).
Folder admins can always run and manage (they can never lock themselves out), but label or review only
through a role of their own. docs/studies.md has the full table.
"""
import collections
import datetime

from girder.constants import AccessType
from girder.exceptions import AccessException, ValidationException
from girder.models.model_base import Model
from girder.models.user import User

ROLES = ('lead', 'expert', 'trainee', 'reviewer')
LABEL, REVIEW, RUN, EXPORT, MANAGE, MONITOR = 'label', 'review', 'run', 'export', 'manage', 'monitor'
#: role -> the capabilities it grants in a project with roles
ROLE_CAPABILITIES = {
    'lead': {RUN, EXPORT, MANAGE, MONITOR},
    'expert': {LABEL, REVIEW},
    'trainee': {LABEL},
    'reviewer': {REVIEW, MONITOR},
}
#: in a project without roles, each capability is simply a level on the project folder
LEVEL_WITHOUT_ROLES = {LABEL: AccessType.WRITE, REVIEW: AccessType.WRITE, RUN: AccessType.WRITE,
                       EXPORT: AccessType.WRITE, MANAGE: AccessType.ADMIN, MONITOR: AccessType.READ}
#: what folder admins may always do, with or without a role
ADMIN_CAPABILITIES = {RUN, EXPORT, MANAGE, MONITOR}
#: what a capability lets one do, for error messages and Swagger
CAPABILITY_TEXT = {LABEL: 'label', REVIEW: 'give review verdicts', RUN: 'run the pipeline',
                   EXPORT: 'export the project', MANAGE: 'manage the study', MONITOR: 'see the study dashboard'}
#: roles that are never blinded (they oversee the raters)
UNBLINDED_ROLES = ('lead', 'reviewer')
#: name -> (type, default, check, description) of the study options
OPTIONS = {
    'blinded': (bool, False, lambda v: True,
                'raters (trainees, experts) see no other user\'s labels or reviews and no model predictions'),
    'routing': (bool, False, lambda v: True,
                'GET next gives trainees the items the model is confident about and experts the uncertain and '
                'disputed ones'),
    'confidentAt': (float, 0.9, lambda v: 0.5 <= v <= 1.0,
                    'model confidence (top probability, 0.5-1) from which an item is "confident": easy for '
                    'routing, and a likely label error in the adjudication queue when it disagrees'),
}

Caller = collections.namedtuple('Caller', 'level roles capabilities blinded')


def caller_capabilities(level, roles, managed, blinded):
    """The capabilities of a caller with folder ``level`` and ``roles`` in a project with (``managed``) or
    without roles. Blinded callers only label: reviewing, the dashboard, running the pipeline (whose training
    manifest holds everyone's effective labels) and exporting all show others' work."""
    if not managed:
        capabilities = {c for c, need in LEVEL_WITHOUT_ROLES.items() if level >= need}
    else:
        capabilities = set().union(*(ROLE_CAPABILITIES[r] for r in roles)) if level >= AccessType.WRITE else set()
        if level >= AccessType.ADMIN:
            capabilities |= ADMIN_CAPABILITIES
    if blinded:
        capabilities -= {REVIEW, MONITOR, RUN, EXPORT}
    return capabilities


class Study(Model):
    """One document per project (``_id`` = the project id) with its roles (user id -> list of roles) and
    options; a project without one has no roles and default options."""

    def initialize(self):
        self.name = 'histomics_label_study'

    def validate(self, doc):
        return doc

    def get(self, project):
        doc = self.collection.find_one({'_id': project['_id']}) or {}
        return dict({key: spec[1] for key, spec in OPTIONS.items()},
                    **{key: doc[key] for key in OPTIONS if key in doc}, roles=doc.get('roles') or {},
                    projectId=project['_id'])

    def caller(self, project, user, study=None):
        """(folder level, roles, capabilities, blinded) of ``user`` in ``project``."""
        from .project import Project

        study = study or self.get(project)
        level = Project().getAccessLevel(project, user) if user else AccessType.NONE
        roles = tuple(study['roles'].get(str(user['_id']), ())) if user else ()
        blinded = bool(study['blinded']) and level < AccessType.ADMIN and not set(roles) & set(UNBLINDED_ROLES)
        return Caller(level, roles, caller_capabilities(level, roles, bool(study['roles']), blinded), blinded)

    def require(self, project, user, capability):
        """403 unless ``user`` has ``capability`` (or one of a tuple of them) in ``project``."""
        wanted = (capability,) if isinstance(capability, str) else tuple(capability)
        caller = self.caller(project, user)
        if set(wanted) & caller.capabilities:
            return caller
        what = ' or '.join(CAPABILITY_TEXT[c] for c in wanted)
        if caller.blinded and set(wanted) & {REVIEW, MONITOR, RUN, EXPORT}:
            raise AccessException('Project %s is blinded: raters may not %s.' % (project['name'], what))
        granting = sorted(r for r in ROLES if set(wanted) & ROLE_CAPABILITIES[r])
        if self.get(project)['roles']:
            raise AccessException('In project %s only %s%s may %s; your roles: %s. A lead or a folder admin '
                                  'assigns roles.' % (project['name'], ', '.join(granting),
                                                      ' (and folder admins)' if set(wanted) <= ADMIN_CAPABILITIES
                                                      else '', what, ', '.join(caller.roles) or 'none'))
        raise AccessException('%s access on the project folder is needed to %s.' % (
            'Admin' if max(LEVEL_WITHOUT_ROLES[c] for c in wanted) >= AccessType.ADMIN else 'Write', what))

    def blinded(self, project, user):
        return self.caller(project, user).blinded

    def require_unblinded(self, project, user, what):
        """403 for a blinded caller, naming ``what`` they may not see."""
        if self.blinded(project, user):
            raise AccessException('Project %s is blinded: %s are hidden from its raters.' % (project['name'], what))

    def own_only(self, project, user, user_id, field='userId'):
        """The user id a query may name: anything for an unblinded caller; for a blinded one only their own
        (the default when ``user_id`` is None), 403 for another user's."""
        if not self.blinded(project, user):
            return user_id
        if user_id is not None and user_id != user['_id']:
            raise AccessException('Project %s is blinded: you may only see your own labels (%s).' % (
                project['name'], field))
        return user['_id']

    def update(self, project, roles=None, **options):
        """Set some users' roles (``roles``: user id string -> list of roles; an empty list removes the user)
        and options; every change is checked before anything is written. Returns the study."""
        from .project import Project

        changes = {}
        for key, value in options.items():
            if value is None:
                continue
            kind, _, check, description = OPTIONS[key]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or not check(value):
                raise ValidationException('Option %s must be %s: %s.' % (key, kind.__name__, description), key)
            changes[key] = value
        unset = {}
        for user_id, user_roles in (roles or {}).items():
            user = User().load(user_id, force=True) if len(user_id) == 24 else None
            if user is None:
                raise ValidationException('Unknown user %s.' % user_id, 'roles')
            bad = [r for r in user_roles if r not in ROLES]
            if bad or len(set(user_roles)) != len(user_roles):
                raise ValidationException('Roles are distinct values of %s; got %r.' % (', '.join(ROLES), user_roles),
                                          'roles')
            if user_roles and Project().getAccessLevel(project, user) < AccessType.WRITE:
                raise ValidationException(
                    'User %s has no write access on the project folder; grant it in the folder\'s access control '
                    'first (roles narrow folder access, they never widen it).' % user['login'], 'roles')
            if user_roles:
                changes['roles.%s' % user['_id']] = [r for r in ROLES if r in user_roles]
            else:
                unset['roles.%s' % user['_id']] = True
        update = {'$set': dict(changes, projectId=project['_id'],
                               updated=datetime.datetime.now(datetime.timezone.utc))}
        if unset:
            update['$unset'] = unset
        self.collection.update_one({'_id': project['_id']}, update, upsert=True)
        return self.get(project)

    def job_user(self, project, user):
        """Who runs a pipeline job a write of ``user`` triggers (the automatic retraining): ``user`` when they
        may run the pipeline, else the project's creator if they may, else None."""
        if RUN in self.caller(project, user).capabilities:
            return user
        creator = User().load(project['creatorId'], force=True) if project.get('creatorId') else None
        return creator if creator and RUN in self.caller(project, creator).capabilities else None

    def describe(self, project, user):
        """The study as the API shows it: options, members with their roles, and the caller's own view."""
        study = self.get(project)
        caller = self.caller(project, user, study)
        members = []
        for user_id, user_roles in sorted(study['roles'].items()):
            member = User().load(user_id, force=True, fields=['login', 'firstName', 'lastName'])
            members.append({'userId': user_id, 'login': member['login'] if member else None,
                            'name': ('%s %s' % (member['firstName'], member['lastName'])) if member else None,
                            'roles': list(user_roles)})
        return dict({key: study[key] for key in OPTIONS}, projectId=project['_id'], members=members,
                    me={'roles': list(caller.roles), 'capabilities': sorted(caller.capabilities),
                        'blinded': caller.blinded})

    def remove_project(self, project_id):
        self.collection.delete_many({'_id': project_id})
