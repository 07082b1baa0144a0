"""Export a project as a Girder local job: a versioned snapshot of its labels with provenance.

``POST project/{id}/export`` checks the options, reserves the next export version and queues a local job
(``girder_jobs``' ``createLocalJob``, run on Girder's event thread like large_image's own thumbnail jobs): the
export reads every label, verdict and geometry document and writes Girder files, which it does in-process
straight from the database, with no image or worker to provision and no REST round trip per chunk. The job
streams slide by slide and chunk by chunk (memory bounded by a chunk, files on disk in a scratch directory),
reports progress, stops when canceled, and on failure removes its partial folder; it never writes a label.

The export lands in ``Histomics Label exports/v0001`` (then ``v0002``...) in the project folder (``v0001 <project
id>`` when another project of the folder has that name already), with the files
of the formats asked for, ``removed_slides.parquet`` when removed slides have labels (:mod:`.export_removed`) and
``manifest.json`` (written last: a folder without it is not an export).
"""
import shutil
import tempfile
import traceback

from bson import ObjectId
from girder.exceptions import ValidationException
from girder.models.folder import Folder
from girder.models.user import User
from girder_jobs.constants import JobStatus
from girder_jobs.models.job import Job

from ..core.export.splits import SPLITS, split_counts
from ..models.project import Project
from .export_run import Export, ExportCanceled

EXPORTS_FOLDER = 'Histomics Label exports'
FORMATS = ('geojson', 'masks', 'coco', 'parquet')
SPLIT_LEVELS = ('slide', 'patient')
DEFAULT_RATIOS = (0.7, 0.15, 0.15)


def check_options(project, formats=None, magnification=None, splitLevel='slide', splitRatios=None, seed=0,
                  includeEmbeddings=False):
    """The export options with defaults filled in; 400 (before anything is written) for a bad combination."""
    formats = list(formats or FORMATS)
    if any(f not in FORMATS for f in formats) or len(set(formats)) != len(formats):
        raise ValidationException('formats lists distinct ones of %s.' % ', '.join(FORMATS), 'formats')
    settings = project['settings']
    magnification = float(settings['magnification'] if magnification is None else magnification)
    if not 0 < magnification <= settings['magnification']:
        raise ValidationException(
            'Masks are made from the superpixel label image, segmented at %gx: magnification must be in (0, %g].'
            % (settings['magnification'], settings['magnification']), 'magnification')
    ratios = list(splitRatios if splitRatios is not None else DEFAULT_RATIOS)
    try:
        split_counts(0, ratios)
    except ValueError:
        raise ValidationException('splitRatios are %d non-negative numbers (%s) summing to 1.' % (
            len(SPLITS), ', '.join(SPLITS)), 'splitRatios')
    if splitLevel not in SPLIT_LEVELS:
        raise ValidationException('splitLevel is one of %s.' % ', '.join(SPLIT_LEVELS), 'splitLevel')
    if includeEmbeddings and settings['featureKind'] != 'embedding':
        raise ValidationException('The project\'s features are image patches, not embeddings.', 'includeEmbeddings')
    if includeEmbeddings and 'parquet' not in formats:
        raise ValidationException('Embeddings go into the Parquet table: add parquet to formats.', 'includeEmbeddings')
    if project.get('archived'):
        raise ValidationException('Project %s is archived: its slides and superpixels are gone.' % project['name'],
                                  'id')
    return {'formats': formats, 'magnification': magnification, 'splitLevel': splitLevel, 'splitRatios': ratios,
            'seed': int(seed), 'includeEmbeddings': bool(includeEmbeddings)}


def start_export(project, user, **options):
    """Check the options, reserve the next export version and queue the export job; returns the job."""
    options = check_options(project, **options)
    Project().folder(project)  # 400 for an archived project
    version = Project().collection.find_one_and_update(
        {'_id': project['_id']}, {'$inc': {'exportVersion': 1}}, return_document=True)['exportVersion']
    job = Job().createLocalJob(
        module=__name__, function='run_export', title='Export v%d: %s' % (version, project['name']),
        type='histomics_label_export', user=user, asynchronous=True,
        kwargs={'projectId': str(project['_id']), 'version': version, 'options': options},
        otherFields={'histomicsLabel': {'projectId': str(project['_id']), 'export': version}})
    Job().scheduleJob(job)
    return job


def exports_folder(project, user):
    return Folder().createFolder(
        Project().folder(project), EXPORTS_FOLDER, creator=user, reuseExisting=True,
        description='Versioned dataset exports of Histomics Label projects')


def version_folder(project, user, version):
    """The new folder of an export: ``vNNNN``, or ``vNNNN <project id>`` when that name is taken (another project
    of the folder, or a deleted project whose exports stay, exported under the same version number)."""
    parent = exports_folder(project, user)
    name = 'v%04d' % version
    if Folder().findOne({'parentId': parent['_id'], 'parentCollection': 'folder', 'name': name}):
        name = '%s %s' % (name, project['_id'])
    return Folder().createFolder(parent, name, creator=user,
                                 description='Export v%d of %s' % (version, project['name']))


def list_exports(project, user):
    """The project's finished exports, newest first: the ``histomicsLabelExport`` metadata of each export folder
    the caller can read, with its folder id."""
    parent = Folder().findOne({'parentId': project['folderId'], 'parentCollection': 'folder',
                               'name': EXPORTS_FOLDER})
    if parent is None:
        return []
    exports = [dict(folder['meta']['histomicsLabelExport'], folderId=folder['_id'])
               for folder in Folder().childFolders(parent, 'folder', user=user)
               if str((folder.get('meta') or {}).get('histomicsLabelExport', {}).get('projectId')) == str(project['_id'])]
    return sorted(exports, key=lambda entry: entry['version'], reverse=True)


def run_export(job):
    """The local job: export, then mark the job done; on failure (or cancel) remove the partial folder."""
    job = Job().updateJob(job, status=JobStatus.RUNNING, log='Export started.\n')
    kwargs = job['kwargs']
    workdir = tempfile.mkdtemp(prefix='histomics-label-export-')
    folder = None
    try:
        project = Project().load(ObjectId(kwargs['projectId']), force=True)
        user = User().load(job['userId'], force=True)
        if project is None:
            raise ValueError('Project %s no longer exists.' % kwargs['projectId'])
        folder = version_folder(project, user, kwargs['version'])
        manifest = Export(project, user, job, kwargs['version'], kwargs['options'], workdir, folder).run()
        Job().updateJob(job, status=JobStatus.SUCCESS, log='Export v%d done: %d files in folder %s.\n' % (
            kwargs['version'], len(manifest['files']), folder['_id']))
    except ExportCanceled:
        _remove(folder)
        Job().updateJob(job, log='Export canceled; its partial folder was removed.\n')
    except Exception as exc:
        _remove(folder)
        Job().updateJob(job, status=JobStatus.ERROR, log='%s\nExportError: %s\n' % (traceback.format_exc(), exc))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _remove(folder):
    if folder is not None and Folder().load(folder['_id'], force=True) is not None:
        Folder().remove(folder)


