"""The one request-validation layer of the REST API: every route is described with this module's
:class:`Description` and decorated with its :class:`autoDescribeRoute`.

On top of Girder's own checks it declares, in the route description (so Swagger shows them too):
ids (24 hex digits, passed on as ObjectId), integer bounds (``minimum`` / ``maximum``, paging included),
strict booleans (``true``/``false``/``1``/``0``/``yes``/``no``; anything else is a 400 where Girder reads it as
false), sortable fields, and JSON Schemas for JSON parameters and bodies, whose errors name the offending field.
Every failure is a 400 raised before the handler runs, so a malformed request writes nothing.
"""
import bson
from girder.api import describe
from girder.api.rest import getCurrentUser
from girder.constants import SortDir
from girder.exceptions import RestException
import jsonschema

OBJECT_ID_PATTERN = '^[0-9a-fA-F]{24}$'
_TRUE, _FALSE = ('true', '1', 'yes', 'on'), ('false', '0', 'no', 'off')

#: JSON Schema pieces for request bodies
OBJECT_ID = {'type': 'string', 'pattern': OBJECT_ID_PATTERN}
NULLABLE_OBJECT_ID = {'oneOf': [OBJECT_ID, {'type': 'null'}]}
SUPERPIXEL = {'type': 'integer', 'minimum': 0, 'maximum': 2 ** 31 - 1}
ID_LIST = {'type': 'array', 'items': OBJECT_ID}


def slide_batch_body(key, required, properties, max_items, **extra):
    """JSON Schema of a body naming one slide (``itemId``) and a batch ``key`` of 1 to ``max_items`` entries
    with the given ``properties`` (``required`` of them), plus ``extra`` top-level properties."""
    item = {'type': 'object', 'required': list(required), 'additionalProperties': False, 'properties': properties}
    return {'type': 'object', 'required': ['itemId', key], 'additionalProperties': False,
            'properties': dict({'itemId': OBJECT_ID, key: {
                'type': 'array', 'minItems': 1, 'maxItems': max_items, 'items': item}}, **extra)}


class Description(describe.Description):
    """Girder's route description plus the declarations above."""

    def _last(self, **declared):
        self._params[-1].update(declared)
        return self

    def projectParam(self, level, name='id', paramType='path', capability=None):
        """The project named by ``name``, loaded with ``level`` on its folder and passed as ``project``; with
        ``capability`` (or a tuple, any of them) the caller also needs it (:mod:`..models.study`)."""
        from ..models.project import Project

        self.modelParam(name, 'The project id.', model=Project, level=level, paramType=paramType,
                        destName='project')
        return self.capability(capability, name) if capability else self

    def capability(self, capability, name='id'):
        """Require ``capability`` in the project of model parameter ``name`` (a project, or a document with a
        ``projectId``), checked right after it loads; Swagger's notes name the roles that grant it."""
        from ..models.study import CAPABILITY_TEXT, ROLE_CAPABILITIES

        wanted = (capability,) if isinstance(capability, str) else tuple(capability)
        self.modelParams[name]['capability'] = wanted
        roles = sorted(r for r, granted in ROLE_CAPABILITIES.items() if granted & set(wanted))
        text = 'In a project with roles only %s%s may %s.' % (
            ', '.join(roles), '' if {'label', 'review'} & set(wanted) else ' (and folder admins)',
            ' or '.join(CAPABILITY_TEXT[c] for c in wanted))
        return self.notes(' '.join(filter(None, (self._notes, text))))

    def idParam(self, name, description, paramType='query', required=True):
        """A document id (400 unless 24 hex digits); the handler gets an ObjectId (or None)."""
        return self.param(name, description, paramType=paramType, required=required)._last(
            pattern=OBJECT_ID_PATTERN, format='objectId')

    def intParam(self, name, description, minimum=None, maximum=None, **kwargs):
        """An integer with optional inclusive bounds."""
        self.param(name, description, dataType='integer', **kwargs)
        return self._last(**{key: value for key, value in (('minimum', minimum), ('maximum', maximum))
                             if value is not None})

    def numberParam(self, name, description, minimum=None, maximum=None, **kwargs):
        """A number with optional inclusive bounds."""
        self.param(name, description, dataType='number', **kwargs)
        return self._last(**{key: value for key, value in (('minimum', minimum), ('maximum', maximum))
                             if value is not None})

    def boolParam(self, name, description, required=False, default=None):
        """A strict boolean."""
        return self.param(name, description, dataType='boolean', required=required, default=default)

    def pagingParams(self, defaultSort, defaultSortDir=SortDir.ASCENDING, defaultLimit=50, sortable=None):
        """Girder's paging parameters with bounds (offset and limit at least 0; limit 0 is all, as in Girder)
        and ``sort`` restricted to the ``sortable`` fields when given."""
        super().pagingParams(defaultSort, defaultSortDir, defaultLimit)
        for param in self._params:
            if param['name'] in ('limit', 'offset'):
                param.update(type='integer', minimum=0)
            elif param['name'] == 'sort' and sortable:
                param['enum'] = list(sortable)
        return self


class autoDescribeRoute(describe.autoDescribeRoute):  # noqa: N801 (Girder's decorator naming)
    """Girder's ``autoDescribeRoute`` enforcing this module's declarations."""

    def _loadModel(self, name, info, id, model):
        doc = super()._loadModel(name, info, id, model)
        if info.get('capability') and doc is not None:
            from ..models.project import Project
            from ..models.study import Study

            project = doc if isinstance(model, Project) else Project().load(doc['projectId'], force=True)
            Study().require(project, getCurrentUser(), info['capability'])
        return doc

    def _validateParam(self, name, descParam, value):
        if descParam.get('type') == 'boolean':
            return _strict_bool(name, value)
        value = super()._validateParam(name, descParam, value)
        if descParam.get('format') == 'objectId':
            return _object_id(name, value)
        if 'minimum' in descParam and value < descParam['minimum']:
            raise RestException('%s must be at least %s, got %s.' % (name, descParam['minimum'], value))
        if 'maximum' in descParam and value > descParam['maximum']:
            raise RestException('%s must be at most %s, got %s.' % (name, descParam['maximum'], value))
        return value

    def _validateJsonType(self, name, info, val):
        if info.get('schema') is None:
            return super()._validateJsonType(name, info, val)
        error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(info['schema']).iter_errors(val))
        if error is not None:
            where = name + ''.join('[%r]' % p if isinstance(p, int) else '.%s' % p for p in error.absolute_path)
            raise RestException('Invalid %s: %s.' % (where, error.message))


def _strict_bool(name, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RestException('%s must be true or false, got %r.' % (name, value))


def _object_id(name, value):
    if value in (None, ''):
        return None
    if not bson.ObjectId.is_valid(value) or len(str(value)) != 24:
        raise RestException('%s must be an id (24 hex digits), got %r.' % (name, value))
    return bson.ObjectId(value)


def object_id(value, field):
    """An ObjectId from a value inside a validated JSON parameter or body (None stays None)."""
    return _object_id(field, value)
