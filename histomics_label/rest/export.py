"""Data in and out of a project: ``project/{id}/export`` (dataset exports with provenance, a Girder job, and
the list of finished ones) and ``project/{id}/slide/{itemId}/import`` (model output brought back as
predictions to review)."""
from girder.api import access
from girder.api.rest import getCurrentUser
from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.file import File
from girder_jobs.models.job import Job

from ..core.export.splits import SPLITS
from ..models.study import EXPORT, RUN, Study
from ..services.export import DEFAULT_RATIOS, FORMATS, SPLIT_LEVELS, list_exports, start_export
from ..services.prediction_import import STATUSES, import_predictions, imported_rows
from .common import slide_for
from .validation import Description, autoDescribeRoute

FORMATS_SCHEMA = {'type': 'array', 'minItems': 1, 'uniqueItems': True, 'items': {'enum': list(FORMATS)}}
CODES_SCHEMA = {'type': 'object', 'minProperties': 1, 'propertyNames': {'pattern': '^[0-9]{1,5}$'},
                'additionalProperties': {'type': 'string', 'maxLength': 100}}
RATIOS_SCHEMA = {'type': 'array', 'minItems': len(SPLITS), 'maxItems': len(SPLITS),
                 'items': {'type': 'number', 'minimum': 0, 'maximum': 1}}


class ExportEndpoints:
    def __init__(self, root):
        root.route('POST', ('project', ':id', 'export'), self.export)
        root.route('GET', ('project', ':id', 'export'), self.exports)
        root.route('POST', ('project', ':id', 'slide', ':itemId', 'import'), self.import_predictions)
        root.route('GET', ('project', ':id', 'slide', ':itemId', 'import'), self.imported)

    @access.user
    @autoDescribeRoute(
        Description('Export the project as a Girder job with progress: a versioned snapshot (effective labels, '
                    'every rater\'s label, verdicts, model epoch, settings, agreement, a train/val/test split) as '
                    'GeoJSON per slide (zip), category masks (tiled TIFF per slide), COCO and Parquet, in the '
                    'project folder\'s "Histomics Label exports/vNNNN" with a manifest.json. Needs write access: '
                    'it writes into the project folder.')
        .projectParam(AccessType.WRITE, capability=EXPORT)
        .jsonParam('formats', 'JSON list of formats, any of %s (default: all).' % ', '.join(FORMATS),
                   required=False, schema=FORMATS_SCHEMA)
        .numberParam('magnification', 'Magnification of the masks (default: the project\'s segmentation '
                     'magnification, the most the label image holds).', minimum=0, maximum=200, required=False)
        .param('splitLevel', 'Split whole slides, or whole patients (item meta.patientId, else meta.caseId; a '
               'slide without either is its own patient).', required=False, default='slide',
               enum=list(SPLIT_LEVELS))
        .jsonParam('splitRatios', 'JSON list of the %s shares, summing to 1 (default %s).' % (
            '/'.join(SPLITS), list(DEFAULT_RATIOS)), required=False, schema=RATIOS_SCHEMA)
        .intParam('seed', 'Seed of the split (the same seed, ratios and slides give the same split).', minimum=0,
                  maximum=2 ** 32 - 1, required=False, default=0)
        .boolParam('includeEmbeddings', 'Add each superpixel\'s embedding to the Parquet table.', default=False)
        .errorResponse('Bad formats, magnification, ratios, or embeddings the project does not have.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def export(self, project, formats, magnification, splitLevel, splitRatios, seed, includeEmbeddings):
        user = getCurrentUser()
        job = start_export(project, user, formats=formats, magnification=magnification, splitLevel=splitLevel,
                           splitRatios=splitRatios, seed=seed, includeEmbeddings=includeEmbeddings)
        return Job().filter(job, user)

    @access.user
    @autoDescribeRoute(
        Description('The project\'s finished exports, newest first: version, folder, manifest file, formats, '
                    'who made it and when, counts.')
        .projectParam(AccessType.READ)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def exports(self, project):
        Study().require_unblinded(project, getCurrentUser(), 'exports (everyone\'s labels)')
        return list_exports(project, getCurrentUser())

    @access.user
    @autoDescribeRoute(
        Description('Import model output for one slide as predictions to review (never as labels): a GeoJSON '
                    'FeatureCollection of (Multi)Polygons in base-slide pixels whose properties name the category '
                    '(classification.name or category; optional certainty or probability), or a label image of '
                    'category codes spanning the slide (e.g. an export\'s mask). Each superpixel takes what lies '
                    'under its centroid. Re-importing a name replaces it.')
        .projectParam(AccessType.WRITE, capability=RUN)
        .idParam('itemId', 'The slide item id.', paramType='path')
        .modelParam('fileId', 'The Girder file: .json / .geojson for GeoJSON, otherwise a label image.',
                    model=File, level=AccessType.READ, paramType='query', destName='file')
        .param('name', 'Name of this prediction source (e.g. the model).', required=False, default='imported')
        .jsonParam('codes', 'For a label image: JSON object code -> category name, e.g. {"1": "Tumor"} (default: '
                   'the codes an export\'s mask records).', required=False, schema=CODES_SCHEMA)
        .errorResponse('Not GeoJSON nor a label image, unknown categories, or nothing covered.', 400)
        .errorResponse('Write access was denied on the project folder, or read access on the file.', 403)
    )
    def import_predictions(self, project, itemId, file, name, codes):
        slide = slide_for(project, itemId)
        name = (name or '').strip()
        if not 0 < len(name) <= 100:
            raise ValidationException('name has 1-100 characters.', 'name')
        return import_predictions(project, slide, getCurrentUser(), file, name, codes)

    @access.user
    @autoDescribeRoute(
        Description('The slide\'s imported predictions per superpixel, least certain first, each with its '
                    'effective label now; accept or correct them with PUT project/{id}/review (agree / correct).')
        .projectParam(AccessType.READ)
        .idParam('itemId', 'The slide item id.', paramType='path')
        .param('name', 'Only this prediction source.', required=False)
        .param('status', 'all; unreviewed (no effective label yet); agree / disagree (the effective label is / '
               'is not the imported category).', required=False, default='all', enum=list(STATUSES))
        .intParam('limit', 'Page size (0 for all).', minimum=0, maximum=1000, required=False, default=50)
        .intParam('offset', 'Rows to skip.', minimum=0, required=False, default=0)
        .errorResponse('The item is not a slide of the project, or bad paging.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def imported(self, project, itemId, name, status, limit, offset):
        Study().require_unblinded(project, getCurrentUser(), 'imported predictions')
        return imported_rows(project, slide_for(project, itemId), name, status, limit, offset)
