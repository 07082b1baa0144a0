"""The project pipeline as Girder jobs: segment slides, and record each stage's outcome on the slide.

A stage is ``pending`` -> ``running`` (with its jobId) -> ``done`` when the worker reports the outputs
back, or ``error`` (with the job's message) when the job fails; labels are never touched by a failure.
Every move is checked against :mod:`..models.states` inside its update, so a late or duplicate report or
failure never moves a finished stage or epoch backwards.
"""
import datetime
import io
import json
import re

import numpy as np
from bson import ObjectId
from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.file import File
from girder.models.item import Item
from girder.models.upload import Upload
from girder_jobs.constants import JobStatus
from girder_jobs.models.job import Job
from girder_large_image.models.image_item import ImageItem

from ..core.features.store import describe_features
from ..core.superpixel_set import load_superpixel_data
from ..models.category import Category
from ..models.label import Label
from ..models.project import Project
from ..models.review import slide_effective_labels
from ..models.slide import ProjectSlide
from ..models.states import StageStatus, TrainingStatus
from ..models.superpixels import SuperpixelGeometry
from . import trainer_launch
from .launcher import launch_cli
from .trainer_launch import launch_resident, uses_resident_trainer

ERROR_LINES = 20
_EXCEPTION_LINE = re.compile(r'^[A-Za-z_][\w.]*(Error|Exception|Failed|Exit): ')
SEGMENTATION_OUTPUTS = ('outputSuperpixelImage', 'outputSuperpixelData', 'outputAnnotationFile')


def require_large_image(item):
    """The item's large-image file id; 400 unless ``item`` is a large image."""
    if not item.get('largeImage', {}).get('fileId') or item['largeImage'].get('expected'):
        raise ValidationException('Item %s is not a large image.' % item['_id'], 'itemId')
    return item['largeImage']['fileId']


def _file_ref(file_id):
    return {'fileId': str(file_id), 'name': File().load(file_id, force=True)['name']}


def _stem(item):
    return item['name'].rsplit('.', 1)[0]


def _segmentation_task(project, slide, item):
    settings = project['settings']
    return {
        'inputs': {'inputImageFile': _file_ref(require_large_image(item))},
        'parameters': {'magnification': settings['magnification'], 'radius': settings['radius']},
        'outputs': {'outputSuperpixelImage': '%s superpixels.tiff' % _stem(item),
                    'outputSuperpixelData': '%s superpixels.npz' % _stem(item),
                    'outputAnnotationFile': 'superpixels.anot'},
    }


def _features_task(project, slide, item):
    if slide['segmentation'].get('status') != StageStatus.DONE:
        raise ValidationException('Slide %s is not segmented yet.' % slide['name'], 'itemIds')
    settings = project['settings']
    label_item = Item().load(slide['segmentation']['labelItemId'], force=True)
    return {
        'inputs': {'inputImageFile': _file_ref(require_large_image(item)),
                   'inputSuperpixelData': _file_ref(slide['segmentation']['dataFileId']),
                   'labelImage': _file_ref(label_item['largeImage']['fileId'])},
        'parameters': dict({key: settings[key] for key in ('featureKind', 'backbone', 'patchSize', 'magnification')},
                           weightsPath=settings.get('weightsPath', '')),
        'outputs': {'outputFeatures': '%s features.h5' % _stem(item)},
    }


#: stage -> (CLI, task builder, ingest route under the slide, job title)
STAGES = {
    'segmentation': ('SuperpixelSegmentation', _segmentation_task, 'superpixels', 'Superpixels'),
    'features': ('SuperpixelFeatures', _features_task, 'features', 'Features'),
}


def slide_task(project, slide, stage, user):
    """What a stage's CLI needs in Girder mode: input file ids (parameter -> ``{fileId, name}``), parameter
    values from the project settings, output names, the data folder for files, and the route to report
    the outputs' ids to. 400 for an unknown stage or a slide not ready for it."""
    if stage not in STAGES:
        raise ValidationException('Unknown stage %r; one of %s.' % (stage, ', '.join(STAGES)), 'stage')
    item = Item().load(slide['itemId'], force=True)
    task = STAGES[stage][1](project, slide, item)
    return dict(task, stage=stage, projectId=str(project['_id']), itemId=str(item['_id']),
                dataFolderId=str(Project().data_folder(project, user)['_id']),
                report='histomics_label/project/%s/slide/%s/%s' % (project['_id'], item['_id'], STAGES[stage][2]))


def launch_stage(project, slide, stage, user):
    """Queue a stage's CLI in Girder mode for one slide (it fetches ``slide_task`` and reports back)."""
    name, build_task, _, title = STAGES[stage]
    item = Item().load(slide['itemId'], force=True)
    _require_move(slide, stage, StageStatus.RUNNING)
    build_task(project, slide, item)  # a slide not ready for the stage is a 400 now, not a failed job later
    job = launch_cli(
        name, {'projectId': project['_id'], 'itemId': item['_id']}, user, title='%s: %s' % (title, item['name']),
        details={'projectId': str(project['_id']), 'itemId': str(item['_id']), 'stage': stage})
    if ProjectSlide().set_stage(slide, stage, StageStatus.RUNNING, jobId=job['_id'], error=None) is None:
        Job().cancelJob(job)  # a concurrent launch won the stage
        raise ProjectSlide().refusal(slide, stage, StageStatus.RUNNING)
    return job


def _require_move(slide, stage, status):
    """400 before any side effect when the slide's stage (as loaded) may not move to ``status``."""
    if status not in StageStatus.valid_transitions(slide[stage].get('status')):
        raise ProjectSlide().refusal(slide, stage, status)


def launch_segmentation(project, slide, user):
    """Queue the SuperpixelSegmentation CLI for one slide with the project's settings. A slide with labels
    keeps its superpixels (its labels refer to them): 400."""
    item = Item().load(slide['itemId'], force=True)
    require_large_image(item)
    if Label().findOne({'projectId': project['_id'], 'itemId': slide['itemId']}):
        raise ValidationException('Slide %s has labels on its superpixels; it cannot be segmented again.' %
                                  item['name'], 'itemIds')
    try:
        native = ImageItem().getMetadata(item).get('magnification')
    except Exception as exc:
        raise ValidationException('Slide %s cannot be opened as an image: %s' % (item['name'], exc), 'itemIds')
    magnification = project['settings']['magnification']
    if native and magnification > native * 1.001:
        raise ValidationException('Slide %s is scanned at %gx, below the project magnification %gx.' % (
            item['name'], native, magnification), 'magnification')
    return launch_stage(project, slide, 'segmentation', user)


def launch_features(project, slide, user):
    """Queue the SuperpixelFeatures CLI for a segmented slide (patches masked to their superpixel)."""
    return launch_stage(project, slide, 'features', user)


def check_features_file(project, slide, file):
    """400 unless ``file`` is a complete features file of the project's kind with one row per superpixel of
    the slide (every id 0..count-1 once) and non-empty rows."""
    with File().open(file) as stream:
        try:
            ids, row_shape, attrs = describe_features(stream)
        except ValueError as exc:
            raise ValidationException('File %s is not usable as features: %s.' % (file['name'], exc), 'outputs')
    count = slide.get('superpixelCount') or 0
    problems = []
    if attrs.get('kind') != project['settings']['featureKind']:
        problems.append('its kind is %r, the project uses %r' % (attrs.get('kind'), project['settings']['featureKind']))
    if len(ids) != count or not np.array_equal(np.sort(ids), np.arange(count)):
        problems.append('its ids are not the %d superpixels of the slide' % count)
    if not row_shape or 0 in row_shape:
        problems.append('its rows are empty')
    if problems:
        raise ValidationException('File %s does not fit slide %s: %s.' % (file['name'], slide['name'],
                                                                         '; '.join(problems)), 'outputs')


def ingest_features(project, slide, outputs, user):
    """Record a slide's features file (the SuperpixelFeatures output) once it is checked."""
    if slide['segmentation'].get('status') != StageStatus.DONE:
        raise ValidationException('Slide %s is not segmented.' % slide['name'], 'itemId')
    _require_move(slide, 'features', StageStatus.DONE)
    file = File().load(outputs['outputFeatures']['fileId'], level=AccessType.READ, user=user, exc=True)
    check_features_file(project, slide, file)
    return ProjectSlide().move_stage(slide, 'features', StageStatus.DONE, fileId=file['_id'], error=None)


def training_manifest(project):
    """What TrainAndPredict needs: categories (columns), excluded ones, effective labels, slides' features.

    Labels are the effective labels (adjudicated > consensus > single); disputed superpixels are left out."""
    categories, column = Category().columns(project)
    resolve = Category().resolve(Category().list(project))
    slides = [s for s in ProjectSlide().list(project) if s['features'].get('status') == StageStatus.DONE]
    labels = []
    for slide in slides:
        for superpixel, entry in slide_effective_labels(project, slide['itemId'], resolve).items():
            if entry['categoryId'] is not None:
                labels.append([slide['index'], superpixel, column[entry['categoryId']]])
    trainable = {label[2] for label in labels} - {column[c['_id']] for c in categories if c['excluded']}
    if len(trainable) < 2:
        raise ValidationException('Training needs labels of at least two categories not excluded from '
                                  'training, on featurized slides.')
    settings = project['settings']
    return {
        'categories': [str(c['_id']) for c in categories],
        'excluded': [str(c['_id']) for c in categories if c['excluded']],
        'labels': labels, 'slides': [{'index': s['index'], 'features': 'slide%d.h5' % s['index'],
                                      'itemId': str(s['itemId'])} for s in slides],
        'modelKind': settings['modelKind'], 'modelBackend': settings['modelBackend'],
        'strategy': settings['certaintyMetric'], 'seed': 0,
    }, slides


def model_summary(manifest):
    """What the project records about the model of an epoch."""
    return {'kind': manifest['modelKind'], 'backend': manifest['modelBackend'], 'strategy': manifest['strategy'],
            'labels': len(manifest['labels']), 'slides': len(manifest['slides'])}


def record_training(project, epoch, **fields):
    """Start the training record of a new epoch (``running``); never over a newer epoch's record."""
    Project().update({'_id': project['_id'], '$or': [{'training.epoch': {'$lt': epoch}}, {'training': None}]},
                     {'$set': {'training': dict({'epoch': epoch, 'status': TrainingStatus.RUNNING, 'error': None,
                                                 'started': datetime.datetime.now(datetime.timezone.utc)},
                                                **fields)}})


def reserve_epoch(project, user):
    """Reserve the next epoch number, store its manifest (the training manifest plus each slide's features
    file id, the data folder for outputs and the model summary) in the data folder, and mark the project
    as training it. Returns the manifest."""
    manifest, slides = training_manifest(project)
    project = Project().collection.find_one_and_update(
        {'_id': project['_id']}, {'$inc': {'trainingEpoch': 1}, '$set': {'labelsSinceTraining': 0}},
        return_document=True)
    epoch = manifest['epoch'] = max(project['trainingEpoch'], project.get('epoch', 0) + 1)
    for entry, slide in zip(manifest['slides'], slides):
        entry['fileId'] = str(slide['features']['fileId'])
    folder = Project().data_folder(project, user)
    manifest.update(dataFolderId=str(folder['_id']), projectId=str(project['_id']), model=model_summary(manifest))
    body = json.dumps(manifest).encode()
    file = Upload().uploadFromFile(io.BytesIO(body), len(body), 'epoch %d manifest.json' % epoch,
                                   parentType='folder', parent=folder, user=user)
    record_training(project, epoch, jobId=None, manifestFileId=file['_id'])
    return manifest


def epoch_manifest(project, epoch):
    """The stored manifest of the epoch in training; 400 for any other epoch."""
    training = project.get('training') or {}
    if training.get('epoch') != epoch or not training.get('manifestFileId'):
        raise ValidationException('Epoch %d is not the epoch in training.' % epoch, 'epoch')
    file = File().load(training['manifestFileId'], force=True)
    return json.loads(b''.join(File().download(file, headers=False)()))  # a file handle reads 16 MB at most


def launch_training(project, user):
    """Queue an epoch over every featurized slide: on the resident trainer for embedding projects
    (:mod:`.trainer_launch`), else as a TrainAndPredict job; labeling goes on meanwhile."""
    manifest = reserve_epoch(project, user)
    epoch = manifest['epoch']
    try:
        if uses_resident_trainer(project):
            job = launch_resident(project, epoch, user)
        else:
            job = launch_cli(
                'TrainAndPredict', {'projectId': project['_id'], 'epoch': epoch}, user,
                title='Train epoch %d: %s' % (epoch, project['name']),
                details={'projectId': str(project['_id']), 'stage': 'training', 'epoch': epoch})
    except Exception as exc:
        Project().move_training(project['_id'], epoch, TrainingStatus.ERROR, error=str(exc))
        raise
    Project().update({'_id': project['_id'], 'training.epoch': epoch}, {'$set': {'training.jobId': job['_id']}})
    return job


def request_training(project, user):
    """A training trigger: start an epoch, or while one runs, have exactly one follow-up epoch start when
    it ends (:func:`.trainer_launch.request_training`). Returns ``(job, started)``."""
    return trainer_launch.request_training(project, user, launch_training)


def maybe_retrain(project, user, changed):
    """Count label changes; once ``retrainInterval`` of them accumulated, trigger training in the background
    (coalesced into the running epoch's follow-up if one runs; never blocking the label write). Returns the
    new job or None."""
    interval = project['settings'].get('retrainInterval') or 0
    if not interval or not changed:
        return None
    project = Project().collection.find_one_and_update(
        {'_id': project['_id']}, {'$inc': {'labelsSinceTraining': changed}}, return_document=True)
    if project['labelsSinceTraining'] < interval:
        return None
    try:
        job, started = request_training(project, user)
    except ValidationException:
        return None  # not enough categories labeled yet: keep counting
    return job if started else None


def ingest_segmentation(project, slide, outputs, user):
    """Store a segmentation's outputs (ids of the label image, data file and annotation) on the slide."""
    if not isinstance(outputs, dict) or any(key not in outputs for key in SEGMENTATION_OUTPUTS[:2]):
        raise ValidationException('outputs needs %s.' % ' and '.join(SEGMENTATION_OUTPUTS[:2]), 'outputs')
    if Label().findOne({'projectId': project['_id'], 'itemId': slide['itemId']}):
        raise ValidationException('Slide %s already has labels on its superpixels.' % slide['itemId'], 'itemId')
    _require_move(slide, 'segmentation', StageStatus.DONE)
    data = File().load(outputs['outputSuperpixelData'].get('fileId'), level=AccessType.READ, user=user, exc=True)
    with File().open(data) as stream:
        try:
            arrays = load_superpixel_data(io.BytesIO(stream.read()))
        except (ValueError, OSError) as exc:
            raise ValidationException('Bad superpixel data: %s' % exc, 'outputs')
    label_item = Item().load(outputs['outputSuperpixelImage'].get('itemId'), level=AccessType.READ, user=user,
                             exc=True)
    if 'largeImage' not in label_item:
        ImageItem().createImageItem(label_item, list(Item().childFiles(label_item, limit=1))[0], user=user,
                                    createJob=False)
    return SuperpixelGeometry().store(
        slide, arrays['centroids'], arrays['bboxes'], labelItemId=label_item['_id'], dataFileId=data['_id'],
        scale=float(arrays.get('scale', 1.0)),
        annotationIds=(outputs.get('outputAnnotationFile') or {}).get('annotationIds', []), error=None)


def start_features(project, slide, user):
    """Queue the features of a slide that was just segmented. A launch that fails (the queue is unreachable,
    the stage is not ready) is recorded as the features' error where the state allows it; a features job
    still running keeps its stage. Returns the slide as stored."""
    try:
        launch_features(project, slide, user)
    except Exception as exc:
        if slide['features'].get('status') != StageStatus.RUNNING:
            ProjectSlide().set_stage(slide, 'features', StageStatus.ERROR, error=str(exc))
    return ProjectSlide().load(slide['_id'])


def record_job_failure(job):
    """A failed or canceled job of ours moves its slide stage (only if the stage still records that job) or its
    training epoch from ``running`` to ``error`` with the job's error; returns whether a state moved. A training
    job that ended, however, then starts the follow-up epoch of triggers coalesced during its run."""
    moved = _record_failure(job)
    trainer_launch.start_follow_up(job, launch_training)
    return moved


def _record_failure(job):
    details = job.get('histomicsLabel') or {}
    if job['status'] not in (JobStatus.ERROR, JobStatus.CANCELED) or 'stage' not in details:
        return False
    log = ''.join(Job().load(job['_id'], force=True, includeLog=True).get('log') or [])
    error = error_summary(log) or 'The job ended with status %s.' % job['status']
    if details['stage'] == 'training':
        return Project().move_training(ObjectId(details['projectId']), details['epoch'], TrainingStatus.ERROR,
                                       error=error)
    slide = ProjectSlide().findOne({'projectId': ObjectId(details['projectId']),
                                    'itemId': ObjectId(details['itemId'])})
    return slide is not None and ProjectSlide().set_stage(
        slide, details['stage'], StageStatus.ERROR, job_id=job['_id'], error=error) is not None


def error_summary(log):
    """The failure a job log ends with: its last ``Name: message`` exception line (a failed CLI's own error
    comes after the worker's report of it) with its continuation lines, without traceback frames."""
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if _EXCEPTION_LINE.match(line)]
    if not starts:
        return '\n'.join([line for line in lines if line.strip()][-ERROR_LINES:])
    summary = []
    for line in lines[starts[-1]:starts[-1] + ERROR_LINES]:
        if line.startswith('  File "') or line.startswith('Traceback'):
            break
        summary.append(line)
    return '\n'.join(summary)
