"""A labeling project: a Girder folder of slides plus the settings of segmentation, features and model.

Access follows the folder's ACL: read to view, write to label, admin to change settings.
"""
import datetime

from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.folder import Folder
from girder.models.model_base import Model

from ..core.acquisition import STRATEGIES
from ..core.classifiers import DEFAULT_BACKENDS, REGISTRY
from ..core.features.backbones import backbone_needs_weights
from .access import COLLECTION_PREFIX, PROJECT_COLLECTION, FolderAccessMixin
from .assignment import AssignmentSample
from .category import Category
from .label import LabeledKeys, Label, LabelHistory
from .prediction import Prediction, Ranking
from .quality import EpochQuality
from .review import Review
from .slide import ProjectSlide
from .states import TrainingStatus
from .superpixels import SuperpixelGeometry

DATA_FOLDER = 'Histomics Label data'
#: what a project derives from its slides and labels (recomputable; an archived project drops it)
DERIVED = (LabeledKeys, ProjectSlide, SuperpixelGeometry, Prediction, Ranking, EpochQuality)
FEATURE_KINDS = ('embedding', 'patches')
MODEL_KINDS = tuple(sorted(DEFAULT_BACKENDS))
MODEL_BACKENDS = tuple(sorted({backend for _, backend in REGISTRY}))

#: name -> (type, default, check, description); the single place that defines project settings
SETTINGS = {
    'radius': (int, 100, lambda v: 8 <= v <= 2000, 'approximate superpixel radius in pixels (8-2000)'),
    'magnification': (float, 20.0, lambda v: 0 < v <= 200, 'magnification to segment at (0-200]'),
    'featureKind': (str, 'embedding', lambda v: v in FEATURE_KINDS, 'one of %s' % ', '.join(FEATURE_KINDS)),
    'backbone': (str, 'efficientnet_lite0', lambda v: len(v) <= 100 and _known_backbone(v),
                 'efficientnet_lite0, densenet121_pathmnist, uni, hf or timm:<model>'),
    'weightsPath': (str, '', lambda v: len(v) <= 1000 and (not v or v.startswith('/')),
                    'absolute path of the backbone weights on the machine (or in the image) that runs the '
                    'features CLI; needed by uni, hf and timm backbones'),
    'patchSize': (int, 64, lambda v: 16 <= v <= 512, 'patch size in pixels (16-512)'),
    'modelKind': (str, 'mlp', lambda v: v in MODEL_KINDS, 'one of %s' % ', '.join(MODEL_KINDS)),
    'modelBackend': (str, '', lambda v: v in MODEL_BACKENDS + ('',),
                     'one of %s, or empty for the kind\'s default' % ', '.join(MODEL_BACKENDS)),
    'certaintyMetric': (str, 'batchbald', lambda v: v in STRATEGIES, 'one of %s' % ', '.join(STRATEGIES)),
    'retrainInterval': (int, 0, lambda v: 0 <= v <= 100000,
                        'retrain after this many new labels; 0 retrains only on request'),
    'knownAnswerShare': (float, 0.0, lambda v: 0 <= v <= 0.5,
                         'share (0-0.5) of the guided queue given to reviewed superpixels, unmarked, to measure '
                         'each labeler\'s accuracy; 0 is off'),
}


def _known_backbone(name):
    try:
        backbone_needs_weights(name)
        return True
    except ValueError:
        return False


def validate_settings(settings, base=None):
    """Return ``base`` (or the defaults) updated with ``settings``; ValidationException on bad values."""
    result = dict(base) if base else {key: spec[1] for key, spec in SETTINGS.items()}
    if not isinstance(settings, dict):
        raise ValidationException('Settings must be a JSON object.', 'settings')
    for key, value in settings.items():
        if key not in SETTINGS:
            raise ValidationException('Unknown setting %r.' % key, key)
        kind, _, check, description = SETTINGS[key]
        try:
            if isinstance(value, bool) or (kind is not str and isinstance(value, str)):
                raise TypeError
            value = kind(value)
            if kind is int and value != settings[key]:
                raise TypeError
        except (TypeError, ValueError):
            raise ValidationException('Setting %s must be a %s: %s.' % (key, kind.__name__, description), key)
        if not check(value):
            raise ValidationException('Setting %s is out of range: %s.' % (key, description), key)
        result[key] = value
    pair = (result['modelKind'], result['modelBackend'] or DEFAULT_BACKENDS[result['modelKind']])
    if pair not in REGISTRY:
        raise ValidationException('Model kind %s has no %s backend.' % pair, 'modelBackend')
    if result['featureKind'] == 'embedding' and backbone_needs_weights(result['backbone']) and \
            not result['weightsPath']:
        raise ValidationException('Backbone %s needs weightsPath: its weights are never downloaded.' %
                                  result['backbone'], 'weightsPath')
    if result['modelKind'] == 'cnn' and result['featureKind'] != 'patches':
        raise ValidationException('The cnn model kind trains on image patches: set featureKind to patches.',
                                  'featureKind')
    if result['modelKind'] != 'cnn' and result['featureKind'] == 'patches':
        raise ValidationException('Image patches need the cnn model kind.', 'modelKind')
    return result


#: what the API shows of a project (and of its ``training`` state); the rest is internal bookkeeping
EXPOSED = ('_id', 'name', 'folderId', 'creatorId', 'created', 'updated', 'settings', 'epoch', 'model', 'training',
           'removedSlides', 'archived')
TRAINING_EXPOSED = ('epoch', 'status', 'jobId', 'error', 'started')


class Project(FolderAccessMixin, Model):
    def initialize(self):
        self.name = PROJECT_COLLECTION
        self.ensureIndices([('folderId', {'unique': True}), 'creatorId'])
        self.exposeFields(AccessType.READ, EXPOSED)

    def access_folder(self, project):
        return Folder().load(project['folderId'], force=True) if project.get('folderId') else None

    def filter(self, project, user=None, additionalKeys=None):
        """The exposed fields (always with ``removedSlides`` and ``archived``), the training state without its
        internals, and the caller's ``_accessLevel``."""
        result = super().filter(project, user, additionalKeys)
        result.setdefault('removedSlides', [])
        result.setdefault('archived', None)
        if result.get('training'):
            result['training'] = {key: result['training'].get(key) for key in TRAINING_EXPOSED}
        result['_accessLevel'] = self.getAccessLevel(project, user)
        return result

    def validate(self, doc):
        doc['name'] = (doc.get('name') or '').strip()
        if not doc['name'] or len(doc['name']) > 200:
            raise ValidationException('A project needs a name of 1-200 characters.', 'name')
        doc['settings'] = validate_settings(doc.get('settings') or {}, doc.get('settings'))
        other = self.findOne({'folderId': doc['folderId'], '_id': {'$ne': doc.get('_id')}})
        if other is not None:
            raise ValidationException('Folder %s already holds project %s.' % (doc['folderId'], other['_id']),
                                      'folderId')
        return doc

    def create(self, folder, user, name, settings=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        return self.save({
            'name': name, 'folderId': folder['_id'], 'creatorId': user['_id'], 'created': now,
            'updated': now, 'settings': validate_settings(settings or {}), 'epoch': 0,
        })

    def label_counts(self, project):
        """(labels, label history entries) of the project, removed slides' included."""
        return tuple(model().collection.count_documents({'projectId': project['_id']})
                     for model in (Label, LabelHistory))

    def remove(self, project, delete_labels=False, **kwargs):
        """Delete the project and everything it owns (not the slides themselves). Labels are never deleted
        silently: a project with labels or label history needs ``delete_labels=True`` (400 otherwise)."""
        labels, history = self.label_counts(project)
        if (labels or history) and not delete_labels:
            raise ValidationException(
                'Project %s has %d labels and %d label history entries; deleting it deletes them too. '
                'Confirm with deleteLabels=true.' % (project['name'], labels, history), 'deleteLabels')
        for collection in self.owned_collections():  # per-project documents keyed by projectId or by _id
            collection.delete_many({'$or': [{'projectId': project['_id']}, {'_id': project['_id']}]})
        return super().remove(project, **kwargs)

    def owned_collections(self):
        """Every collection holding documents per project: all of the plugin's models name their collection
        ``histomics_label_...`` and key them by ``projectId``, so none can be forgotten when a project goes."""
        return [self.database[name] for name in self.database.list_collection_names()
                if name.startswith(COLLECTION_PREFIX) and name != self.name]

    def remove_slide(self, project, slide):
        """Drop a slide whose item is deleted: its ranking keys, predictions, labeled keys, superpixels, its
        share of study assignments (samples) and the slide go; its labels, history and reviews stay. The project
        records the removal (``removedSlides``: itemId, name, index, time, labels), so its index is never handed
        out again."""
        Ranking().drop_slide(project, slide['index'])
        labels = Label().collection.count_documents({'projectId': project['_id'], 'itemId': slide['itemId']})
        self.update({'_id': project['_id']}, {
            '$push': {'removedSlides': {
                'itemId': slide['itemId'], 'name': slide['name'], 'index': slide['index'],
                'removed': datetime.datetime.now(datetime.timezone.utc), 'labels': labels}}})
        LabeledKeys().drop_slide(project, slide['index'])
        Prediction().drop_slide(project, slide['itemId'])
        SuperpixelGeometry().collection.delete_many({'slideId': slide['_id']})
        AssignmentSample().collection.delete_many({'projectId': project['_id'], 'itemId': slide['itemId']})
        ProjectSlide().collection.delete_one({'_id': slide['_id']})

    def archive(self, project, reason):
        """Keep a project whose folder is gone for its labels: its remaining slides are removed
        (:meth:`remove_slide`), its derived data dropped, and ``archived`` records when and why. Its labels,
        history, reviews and categories stay."""
        for slide in ProjectSlide().list(project):
            self.remove_slide(project, slide)
        for model in DERIVED:
            model().collection.delete_many({'projectId': project['_id']})
        self.update({'_id': project['_id']}, {'$set': {'archived': {
            'time': datetime.datetime.now(datetime.timezone.utc), 'reason': reason}}})
        return self.load(project['_id'], force=True)

    def move_training(self, project_id, epoch, status, **fields):
        """Move the training record of ``epoch`` to ``status`` if it may (:class:`.states.TrainingStatus`);
        returns whether it moved (a late report for a finished or superseded epoch changes nothing)."""
        fields = {'training.%s' % key: value for key, value in dict(fields, status=status).items()}
        return self.collection.update_one(
            {'_id': project_id, 'training.epoch': epoch, 'training.status': {'$in': TrainingStatus.sources(status)}},
            {'$set': fields}).modified_count == 1

    def publish_epoch(self, project, epoch, slide_indices, model_info=None):
        """Make a stored epoch the current one in one atomic write; drop epochs older than the previous."""
        self.update({'_id': project['_id'], 'epoch': {'$lt': epoch}}, {'$set': {
            'epoch': epoch, 'model': dict(model_info or {}, epoch=epoch)}})
        self.move_training(project['_id'], epoch, TrainingStatus.DONE)
        ProjectSlide().update({'projectId': project['_id'], 'index': {'$in': list(slide_indices)}},
                              {'$set': {'epoch': epoch}})
        for model in (Prediction, Ranking):
            model().collection.delete_many({'projectId': project['_id'], 'epoch': {'$lt': epoch - 1}})
        return self.load(project['_id'], force=True)

    def data_folder(self, project, user):
        """Subfolder of the project folder for derived data (label images, features, models, manifests). Its
        access always mirrors the project folder's: whoever may label may also run the jobs that write here,
        however the folder's access changed since the subfolder was made."""
        parent = self.folder(project)
        data = Folder().createFolder(parent, DATA_FOLDER, creator=user, reuseExisting=True,
                                     description='Superpixels, features and models computed by Histomics Label')
        if (data.get('access'), data.get('public')) != (parent.get('access'), parent.get('public')):
            data = Folder().copyAccessPolicies(parent, data, save=True)
        return data

    def folder(self, project):
        """The project's folder; 400 for an archived project, whose folder is gone."""
        folder = self.access_folder(project)
        if folder is None:
            raise ValidationException('Project %s is archived (%s): it has no folder of slides any more.' % (
                project['name'], (project.get('archived') or {}).get('reason', 'its folder was deleted')),
                'id')
        return folder

    def update_settings(self, project, settings, name=None):
        project['settings'] = validate_settings(settings, project['settings'])
        if name is not None:
            project['name'] = name
        project['updated'] = datetime.datetime.now(datetime.timezone.utc)
        return self.save(project)

    def find_readable(self, user, limit=0, offset=0, folder_id=None):
        """Projects whose folder ``user`` can read (only the one on ``folder_id`` when given), oldest first,
        paged after the access filter."""
        cursor = self.find({} if folder_id is None else {'folderId': folder_id}, sort=[('created', 1), ('_id', 1)])
        readable = (p for p in cursor if self.hasAccess(p, user, AccessType.READ))
        for index, project in enumerate(readable):
            if index < offset:
                continue
            if limit and index >= offset + limit:
                break
            yield project
