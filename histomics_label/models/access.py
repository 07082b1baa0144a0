"""Access through the project folder's ACL, declared once for every model of the plugin.

A project's documents (the project, its categories, ...) are not access controlled themselves: they take the
access of the project's Girder folder (read to view, write to label, admin to change settings). Models that mix
in :class:`FolderAccessMixin` load like Girder's access-controlled models, ``load(id, level=..., user=...)``,
so routes declare the level they need with ``modelParam(..., level=AccessType.X)``.
"""
from girder.constants import AccessType
from girder.exceptions import AccessException
from girder.models.folder import Folder

#: every collection of the plugin's models starts so (and keys its documents by ``projectId``)
COLLECTION_PREFIX = 'histomics_label_'
#: the project model's collection (named here so that project-scoped models need not import the project model)
PROJECT_COLLECTION = COLLECTION_PREFIX + 'project'


class FolderAccessMixin:
    """For a :class:`girder.models.model_base.Model` whose documents take their access from a folder."""

    def access_folder(self, doc):
        """The Girder folder whose ACL governs ``doc`` (None once that folder is gone)."""
        raise NotImplementedError

    def load(self, id, level=AccessType.ADMIN, user=None, objectId=True, force=False, fields=None, exc=False):
        """Like ``AccessControlledModel.load``: unless ``force``, require ``level`` for ``user``."""
        doc = super().load(id, objectId=objectId, fields=fields, exc=exc)
        if doc is not None and not force:
            self.requireAccess(doc, user, level)
        return doc

    def getAccessLevel(self, doc, user):
        """The caller's level on the folder; a public folder gives everyone read (which Girder's own
        ``getAccessLevel`` leaves out for logged-in users)."""
        folder = self.access_folder(doc)
        if folder is None:  # archived: the folder was deleted; only site admins may still see it
            return AccessType.ADMIN if user and user.get('admin') else AccessType.NONE
        level = Folder().getAccessLevel(folder, user)
        if level < AccessType.READ and Folder().hasAccess(folder, user, AccessType.READ):
            level = AccessType.READ
        return level

    def hasAccess(self, doc, user=None, level=AccessType.READ):
        return self.getAccessLevel(doc, user) >= level

    def requireAccess(self, doc, user=None, level=AccessType.READ):
        if not self.hasAccess(doc, user, level):
            raise AccessException('%s access was denied on the project folder.' % {
                AccessType.READ: 'Read', AccessType.WRITE: 'Write'}.get(level, 'Admin'))


class ProjectScopedAccessMixin(FolderAccessMixin):
    """For documents with a ``projectId``: the access of that project's folder."""

    def access_folder(self, doc):
        project = self.database[PROJECT_COLLECTION].find_one({'_id': doc['projectId']}, {'folderId': True})
        return Folder().load(project['folderId'], force=True) if project and project.get('folderId') else None
