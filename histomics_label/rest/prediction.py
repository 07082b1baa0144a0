"""Predictions: ingest a training epoch, the ranked queue of superpixels to label next, per-slide arrays."""
import io

import numpy as np
from girder.api import access
from girder.api.rest import filtermodel, getCurrentUser, setRawResponse, setResponseHeader
from girder.constants import AccessType, TokenScope
from girder.exceptions import ValidationException
from girder.models.file import File

from ..services.pixelmap_annotations import sync_slide_annotations
from ..services.superpixel_image import superpixel_image
from ..models.category import Category
from ..models.prediction import Prediction, store_epoch
from ..models.project import Project
from ..models.slide import ProjectSlide
from ..models.study import RUN, Study
from ..services.study_queue import next_for
from .common import slide_for, slides_for
from .validation import ID_LIST, Description, autoDescribeRoute

PREDICTION_ARRAYS = 'slide_index, superpixel, predicted, probabilities, certainty, ranking, category_ids'


def read_prediction_file(file):
    """The arrays of a predictions ``.npz`` stored in Girder (400 if it is not one)."""
    content = b''.join(File().download(file, headers=False)())  # a file handle reads at most 16 MB at once
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError) as exc:
        raise ValidationException('File %s is not a predictions .npz: %s' % (file['name'], exc), 'fileId')


class PredictionEndpoints:
    def __init__(self, root):
        root.route('POST', ('project', ':id', 'epoch', ':epoch', 'predictions'), self.ingest)
        root.route('GET', ('project', ':id', 'next'), self.next)
        root.route('GET', ('project', ':id', 'slide', ':itemId', 'predictions'), self.slide)
        root.route('POST', ('project', ':id', 'annotations'), self.annotations)
        root.route('GET', ('project', ':id', 'slide', ':itemId', 'superpixel', ':superpixel', 'image'),
                   self.superpixel_image)

    @access.user(scope=TokenScope.DATA_WRITE)  # CLIs in Girder mode
    @filtermodel(Project)
    @autoDescribeRoute(
        Description('Store and publish the predictions of a training epoch (the training job calls this). '
                    'The epoch replaces the current one atomically once it is fully stored.')
        .projectParam(AccessType.WRITE, capability=RUN)
        .intParam('epoch', 'The new epoch number (greater than the current one).', minimum=1, paramType='path')
        .modelParam('fileId', 'A .npz with %s.' % PREDICTION_ARRAYS, model=File, level=AccessType.READ,
                    paramType='query', destName='file')
        .jsonParam('model', 'JSON object describing the model (kind, training-set size...).',
                   required=False, requireObject=True)
        .idParam('modelFileId', 'The saved model file.', required=False)
        .errorResponse('Malformed predictions, unknown categories or slides, or an old epoch.', 400)
        .errorResponse('Write access was denied on the project folder, or read access on the file.', 403)
    )
    def ingest(self, project, epoch, file, model, modelFileId):
        model = dict(model or {}, fileId=modelFileId)
        arrays = read_prediction_file(file)
        known = {str(c['_id']): c['_id'] for c in Category().list(project)}
        category_ids = [str(c) for c in arrays.pop('category_ids', [])]
        if not category_ids or any(c not in known for c in category_ids):
            raise ValidationException('category_ids must list categories of the project.', 'fileId')
        slides = store_epoch(project, epoch, arrays, [known[c] for c in category_ids])
        project = Project().publish_epoch(project, epoch, slides, model)
        for slide in ProjectSlide().list(project):  # HistomicsUI sees the new epoch too
            if slide['index'] in slides:
                sync_slide_annotations(project, slide, getCurrentUser())
        return project

    @access.user
    @autoDescribeRoute(
        Description('The next superpixels to label, across all slides, in the order of the project\'s '
                    'acquisition strategy for the current epoch, skipping those you labeled already. In a '
                    'study that routes, trainees get the confident items and experts the disputed and uncertain '
                    'ones; blinded raters get no predictions (categoryId, probabilities and certainty are null).')
        .projectParam(AccessType.READ)
        .intParam('limit', 'How many.', minimum=1, maximum=1000, required=False, default=20)
        .intParam('offset', 'How many of the remaining ones to skip.', minimum=0, required=False, default=0)
        .errorResponse('limit or offset out of range.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def next(self, project, limit, offset):
        return next_for(project, getCurrentUser(), limit, offset)

    @access.user
    @autoDescribeRoute(
        Description('The current epoch\'s predictions for every superpixel of a slide: predicted category '
                    'column, certainty, and the category id of each column.')
        .projectParam(AccessType.READ)
        .idParam('itemId', 'The slide item id.', paramType='path')
        .boolParam('probabilities', 'Also return per-category probabilities.', default=False)
        .errorResponse('The item is not a slide of the project.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def slide(self, project, itemId, probabilities):
        Study().require_unblinded(project, getCurrentUser(), 'the model\'s predictions')
        arrays = Prediction().slide_arrays(project, slide_for(project, itemId))
        if arrays is None:
            return {'epoch': project.get('epoch', 0), 'categoryIds': [], 'predicted': [], 'certainty': []}
        predicted, probs, certainty, category_ids = arrays
        result = {'epoch': project['epoch'], 'categoryIds': category_ids, 'predicted': predicted.tolist(),
                  'certainty': certainty.round(5).tolist()}
        if probabilities:
            result['probabilities'] = probs.astype(float).round(4).tolist()
        return result

    @access.user
    @autoDescribeRoute(
        Description('Refresh the HistomicsUI pixelmap annotations of effective labels and current predictions '
                    'on the project\'s segmented slides (predictions refresh by themselves each epoch).')
        .projectParam(AccessType.WRITE, capability=RUN)
        .jsonParam('itemIds', 'JSON list of slide item ids (default: all).', required=False, schema=ID_LIST)
        .errorResponse('A slide is not in the project.', 400)
        .errorResponse('Write access was denied on the project folder.', 403)
    )
    def annotations(self, project, itemIds):
        slides = slides_for(project, itemIds)
        return {str(s['itemId']): sync_slide_annotations(project, s, getCurrentUser()) for s in slides}

    @access.user(cookie=True)
    @autoDescribeRoute(
        Description('A JPEG of the slide around one superpixel with its outline drawn (film-strip and review '
                    'cards; usable as an <img> source with ?token=).')
        .projectParam(AccessType.READ)
        .idParam('itemId', 'The slide item id.', paramType='path')
        .intParam('superpixel', 'The superpixel.', minimum=0, paramType='path')
        .intParam('size', 'Longest side in pixels.', minimum=32, maximum=1024, required=False, default=160)
        .numberParam('margin', 'Context around the superpixel, as a fraction of its size on each side.',
                     minimum=0, maximum=5, required=False, default=0.5)
        .produces('image/jpeg')
        .errorResponse('The item is not a segmented slide of the project, or no such superpixel.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def superpixel_image(self, project, itemId, superpixel, size, margin):
        data = superpixel_image(slide_for(project, itemId), superpixel, size, margin)
        setResponseHeader('Content-Type', 'image/jpeg')
        setResponseHeader('Cache-Control', 'private, max-age=86400')
        setRawResponse()
        return data
