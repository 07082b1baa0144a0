"""The project pipeline: segment / featurize / train endpoints, the tasks CLIs in Girder mode fetch, and the
routes they report their outputs to."""
from girder.api import access
from girder.api.rest import filtermodel, getCurrentUser
from girder.constants import AccessType, TokenScope
from girder_jobs.models.job import Job

from ..jobs.pipeline import (SEGMENTATION_OUTPUTS, STAGES, epoch_manifest, ingest_features, ingest_segmentation,
                             launch_features, launch_segmentation, request_training, reserve_epoch, slide_task,
                             start_features)
from ..models.slide import ProjectSlide
from ..models.states import StageStatus
from ..models.study import RUN
from ..services.import_v1 import import_v1_project
from .common import slide_for, slides_for
from .quality import QualityEndpoints
from .validation import ID_LIST, OBJECT_ID, Description, autoDescribeRoute

FILE_REF = {'type': 'object', 'required': ['fileId'], 'properties': {'fileId': OBJECT_ID}}
ITEM_REF = {'type': 'object', 'required': ['itemId'], 'properties': {'itemId': OBJECT_ID}}
SEGMENTATION_SCHEMA = {
    'type': 'object', 'required': list(SEGMENTATION_OUTPUTS[:2]), 'additionalProperties': False,
    'properties': {SEGMENTATION_OUTPUTS[0]: ITEM_REF, SEGMENTATION_OUTPUTS[1]: FILE_REF, SEGMENTATION_OUTPUTS[2]: {
        'type': 'object', 'properties': {'annotationIds': ID_LIST}}}}
FEATURES_SCHEMA = {'type': 'object', 'required': ['outputFeatures'], 'additionalProperties': False,
                   'properties': {'outputFeatures': FILE_REF}}


def _launch_each(launch, project, slides):
    """One job per slide; the jobs as the caller may see them."""
    user = getCurrentUser()
    return [Job().filter(launch(project, slide, user), user) for slide in slides]


class PipelineEndpoints:
    def __init__(self, root):
        root.route('POST', ('project', ':id', 'segment'), self.segment)
        root.route('POST', ('project', ':id', 'slide', ':itemId', 'superpixels'), self.ingest)
        root.route('POST', ('project', ':id', 'featurize'), self.featurize)
        root.route('POST', ('project', ':id', 'slide', ':itemId', 'features'), self.ingest_features)
        root.route('POST', ('project', ':id', 'train'), self.train)
        root.route('POST', ('project', ':id', 'epoch'), self.epoch)
        root.route('GET', ('project', ':id', 'epoch', ':epoch'), self.get_epoch)
        root.route('GET', ('project', ':id', 'slide', ':itemId', 'task', ':stage'), self.task)
        root.route('POST', ('project', ':id', 'import_v1'), self.import_v1)
        QualityEndpoints(root)  # the quality the trainer measures per epoch

    @access.user
    @autoDescribeRoute(
        Description('Segment slides into superpixels with the project settings, one job per slide.')
        .projectParam(AccessType.WRITE, capability=RUN)
        .jsonParam('itemIds', 'JSON list of slide item ids (default: every slide not segmented or running).',
                   required=False, schema=ID_LIST)
        .errorResponse('A slide is not in the project, not a large image or below the magnification.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
        .errorResponse('The job queue is unreachable.', 503)
    )
    def segment(self, project, itemIds):
        slides = slides_for(project, itemIds,
                            lambda s: s['segmentation'].get('status') not in (StageStatus.DONE, StageStatus.RUNNING))
        return _launch_each(launch_segmentation, project, slides)

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @filtermodel(ProjectSlide)
    @autoDescribeRoute(
        Description('Store a slide\'s superpixels from SuperpixelSegmentation outputs (the worker calls this '
                    'when the job succeeded; ML engineers can bring their own segmentation the same way).')
        .projectParam(AccessType.WRITE, capability=RUN)
        .idParam('itemId', 'The slide item id.', paramType='path')
        .jsonParam('outputs', 'JSON object: {"%s": {"itemId"}, "%s": {"fileId"}, "%s": {"annotationIds"}} '
                   '(the annotation is optional).' % SEGMENTATION_OUTPUTS, schema=SEGMENTATION_SCHEMA)
        .errorResponse('Malformed outputs, or the slide already has labels.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def ingest(self, project, itemId, outputs):
        slide = slide_for(project, itemId)
        user = getCurrentUser()
        slide = ingest_segmentation(project, slide, outputs, user)
        return start_features(project, slide, user)  # features follow; the slide is labelable already

    @access.user
    @autoDescribeRoute(
        Description('Compute features of segmented slides with the project settings, one job per slide '
                    '(segmentation starts them by itself; use this to recompute).')
        .projectParam(AccessType.WRITE, capability=RUN)
        .jsonParam('itemIds', 'JSON list of slide item ids (default: every segmented slide without features).',
                   required=False, schema=ID_LIST)
        .errorResponse('A slide is not in the project or not segmented.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
        .errorResponse('The job queue is unreachable.', 503)
    )
    def featurize(self, project, itemIds):
        slides = slides_for(project, itemIds, lambda s: s['segmentation'].get('status') == StageStatus.DONE and
                            s['features'].get('status') not in (StageStatus.DONE, StageStatus.RUNNING))
        return _launch_each(launch_features, project, slides)

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @filtermodel(ProjectSlide)
    @autoDescribeRoute(
        Description('Record a slide\'s features file (the worker calls this when the features job succeeded).')
        .projectParam(AccessType.WRITE, capability=RUN)
        .idParam('itemId', 'The slide item id.', paramType='path')
        .jsonParam('outputs', 'JSON object: {"outputFeatures": {"fileId"}}: a complete features file of the '
                   'project\'s kind with one row per superpixel.', schema=FEATURES_SCHEMA)
        .errorResponse('Unknown file or slide, or a file that is not the slide\'s features.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def ingest_features(self, project, itemId, outputs):
        return ingest_features(project, slide_for(project, itemId), outputs, getCurrentUser())

    @access.user
    @autoDescribeRoute(
        Description('Train a new epoch in the background on everyone\'s effective labels; predictions and '
                    'the ranking switch to it when it is done. Labeling goes on meanwhile. While an epoch '
                    'trains, this only asks for one follow-up epoch after it (however often it is called) and '
                    'returns the running epoch\'s job.')
        .projectParam(AccessType.WRITE, capability=RUN)
        .errorResponse('Fewer than two trainable categories are labeled on featurized slides.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
        .errorResponse('The job queue is unreachable.', 503)
    )
    def train(self, project):
        user = getCurrentUser()
        job, _ = request_training(project, user)
        return Job().filter(job, user) if job is not None else None

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @autoDescribeRoute(
        Description('Reserve the next training epoch and get its manifest (categories, excluded ones, '
                    'effective labels, each featurized slide\'s features file id, the data folder for outputs); '
                    'for training outside our worker, e.g. the TrainAndPredict CLI in Girder mode. Post the '
                    'predictions to project/{id}/epoch/{epoch}/predictions when done.')
        .projectParam(AccessType.WRITE, capability=RUN)
        .errorResponse('Fewer than two trainable categories are labeled on featurized slides.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def epoch(self, project):
        return reserve_epoch(project, getCurrentUser())

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @autoDescribeRoute(
        Description('The manifest of the epoch in training (what POST project/{id}/epoch returned when it was '
                    'reserved); the training job\'s TrainAndPredict CLI reads it in Girder mode.')
        .projectParam(AccessType.WRITE, capability=RUN)
        .intParam('epoch', 'The epoch number.', minimum=1, paramType='path')
        .errorResponse('That epoch is not the one in training.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def get_epoch(self, project, epoch):
        return epoch_manifest(project, epoch)

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @autoDescribeRoute(
        Description('What a stage\'s CLI in Girder mode needs for one slide: input file ids by CLI parameter, '
                    'parameter values from the project settings, output file names, the data folder for '
                    'output files, and the route to POST the outputs\' ids to ("report").')
        .projectParam(AccessType.WRITE, capability=RUN)
        .idParam('itemId', 'The slide item id.', paramType='path')
        .param('stage', 'The pipeline stage.', paramType='path', enum=sorted(STAGES))
        .errorResponse('Unknown stage, a slide outside the project, or a slide not ready for the stage.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def task(self, project, itemId, stage):
        return slide_task(project, slide_for(project, itemId), stage, getCurrentUser())

    @access.user
    @autoDescribeRoute(
        Description('Import a Histomics Label v1 project on the same folder: each slide\'s latest '
                    '"Superpixel Epoch N" pixelmap annotation becomes its superpixels, categories and '
                    '(your, source "import") labels. Slides that already have labels are skipped.')
        .projectParam(AccessType.ADMIN)
        .errorResponse('Admin access was denied on the project folder.', 403)
    )
    def import_v1(self, project):
        return import_v1_project(project, getCurrentUser())
