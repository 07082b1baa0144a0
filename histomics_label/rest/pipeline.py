"""The project pipeline: segment / featurize / train endpoints, the tasks CLIs in Girder mode fetch, and the
routes they report their outputs to."""
from girder.api import access
from girder.api.describe import Description, autoDescribeRoute
from girder.api.rest import getCurrentUser
from girder.constants import AccessType, TokenScope
from girder.exceptions import ValidationException
from girder_jobs.models.job import Job

from ..jobs.pipeline import (SEGMENTATION_OUTPUTS, STAGES, epoch_manifest, ingest_features, ingest_segmentation,
                             launch_features, launch_segmentation, launch_training, reserve_epoch, slide_task)
from ..services.import_v1 import import_v1_project
from ..models.slide import ProjectSlide
from .common import project_for, slide_for, slides_for


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

    @access.user
    @autoDescribeRoute(
        Description('Segment slides into superpixels with the project settings, one job per slide.')
        .param('id', 'The project id.', paramType='path')
        .jsonParam('itemIds', 'JSON list of slide item ids (default: every slide not segmented or running).',
                   required=False, requireArray=True)
        .errorResponse('A slide is not in the project, not a large image or below the magnification.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
        .errorResponse('The job queue is unreachable.', 503)
    )
    def segment(self, id, itemIds):
        project = project_for(id, AccessType.WRITE)
        slides = slides_for(project, itemIds, lambda s: s['segmentation'].get('status') not in ('done', 'running'))
        return _launch_each(launch_segmentation, project, slides)

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @autoDescribeRoute(
        Description('Store a slide\'s superpixels from SuperpixelSegmentation outputs (the worker calls this '
                    'when the job succeeded; ML engineers can bring their own segmentation the same way).')
        .param('id', 'The project id.', paramType='path')
        .param('itemId', 'The slide item id.', paramType='path')
        .jsonParam('outputs', 'JSON object: {"%s": {"itemId"}, "%s": {"fileId"}, "%s": {"annotationIds"}} '
                   '(the annotation is optional).' % SEGMENTATION_OUTPUTS, requireObject=True)
        .errorResponse('Malformed outputs, or the slide already has labels.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def ingest(self, id, itemId, outputs):
        project = project_for(id, AccessType.WRITE)
        slide = slide_for(project, itemId)
        if not all(isinstance(outputs.get(key, {}), dict) for key in SEGMENTATION_OUTPUTS):
            raise ValidationException('Each output is a JSON object of ids.', 'outputs')
        user = getCurrentUser()
        slide = ingest_segmentation(project, slide, outputs, user)
        try:  # features follow segmentation; the slide is labelable already
            launch_features(project, slide, user)
        except Exception as exc:
            slide = ProjectSlide().set_stage(slide, 'features', status='error', error=str(exc))
        return ProjectSlide().load(slide['_id'])

    @access.user
    @autoDescribeRoute(
        Description('Compute features of segmented slides with the project settings, one job per slide '
                    '(segmentation starts them by itself; use this to recompute).')
        .param('id', 'The project id.', paramType='path')
        .jsonParam('itemIds', 'JSON list of slide item ids (default: every segmented slide without features).',
                   required=False, requireArray=True)
        .errorResponse('A slide is not in the project or not segmented.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
        .errorResponse('The job queue is unreachable.', 503)
    )
    def featurize(self, id, itemIds):
        project = project_for(id, AccessType.WRITE)
        slides = slides_for(project, itemIds, lambda s: s['segmentation'].get('status') == 'done' and
                            s['features'].get('status') not in ('done', 'running'))
        return _launch_each(launch_features, project, slides)

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @autoDescribeRoute(
        Description('Record a slide\'s features file (the worker calls this when the features job succeeded).')
        .param('id', 'The project id.', paramType='path')
        .param('itemId', 'The slide item id.', paramType='path')
        .jsonParam('outputs', 'JSON object: {"outputFeatures": {"fileId"}}.', requireObject=True)
        .errorResponse('Unknown file or slide.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def ingest_features(self, id, itemId, outputs):
        project = project_for(id, AccessType.WRITE)
        return ingest_features(project, slide_for(project, itemId), outputs, getCurrentUser())

    @access.user
    @autoDescribeRoute(
        Description('Train a new epoch in the background on everyone\'s effective labels; predictions and '
                    'the ranking switch to it when it is done. Labeling goes on meanwhile.')
        .param('id', 'The project id.', paramType='path')
        .errorResponse('Fewer than two trainable categories are labeled on featurized slides.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
        .errorResponse('The job queue is unreachable.', 503)
    )
    def train(self, id):
        user = getCurrentUser()
        return Job().filter(launch_training(project_for(id, AccessType.WRITE), user), user)

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @autoDescribeRoute(
        Description('Reserve the next training epoch and get its manifest (categories, excluded ones, '
                    'effective labels, each featurized slide\'s features file id, the data folder for outputs); '
                    'for training outside our worker, e.g. the TrainAndPredict CLI in Girder mode. Post the '
                    'predictions to project/{id}/epoch/{epoch}/predictions when done.')
        .param('id', 'The project id.', paramType='path')
        .errorResponse('Fewer than two trainable categories are labeled on featurized slides.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def epoch(self, id):
        return reserve_epoch(project_for(id, AccessType.WRITE), getCurrentUser())

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @autoDescribeRoute(
        Description('The manifest of the epoch in training (what POST project/{id}/epoch returned when it was '
                    'reserved); the training job\'s TrainAndPredict CLI reads it in Girder mode.')
        .param('id', 'The project id.', paramType='path')
        .param('epoch', 'The epoch number.', dataType='integer', paramType='path')
        .errorResponse('That epoch is not the one in training.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def get_epoch(self, id, epoch):
        return epoch_manifest(project_for(id, AccessType.WRITE), epoch)

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @autoDescribeRoute(
        Description('What a stage\'s CLI in Girder mode needs for one slide: input file ids by CLI parameter, '
                    'parameter values from the project settings, output file names, the data folder for '
                    'output files, and the route to POST the outputs\' ids to ("report").')
        .param('id', 'The project id.', paramType='path')
        .param('itemId', 'The slide item id.', paramType='path')
        .param('stage', 'The pipeline stage.', paramType='path', enum=sorted(STAGES))
        .errorResponse('Unknown stage, a slide outside the project, or a slide not ready for the stage.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def task(self, id, itemId, stage):
        project = project_for(id, AccessType.WRITE)
        return slide_task(project, slide_for(project, itemId), stage, getCurrentUser())

    @access.user
    @autoDescribeRoute(
        Description('Import a Histomics Label v1 project on the same folder: each slide\'s latest '
                    '"Superpixel Epoch N" pixelmap annotation becomes its superpixels, categories and '
                    '(your, source "import") labels. Slides that already have labels are skipped.')
        .param('id', 'The project id.', paramType='path')
        .errorResponse('Admin access was denied on the project folder.', 403)
    )
    def import_v1(self, id):
        return import_v1_project(project_for(id, AccessType.ADMIN), getCurrentUser())
