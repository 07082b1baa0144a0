"""Site settings of the plugin (Girder ``system/setting`` keys), with their validation and defaults."""
import re

from girder.exceptions import ValidationException
from girder.utility import setting_utilities

from .core.feature_cache import DTYPES

#: Docker image (``name:tag`` as registered in slicer_cli_web) whose CLIs run the project pipeline; empty
#: runs them on the local girder_worker executor instead.
CLI_IMAGE = 'histomics_label.cli_image'
_IMAGE_NAME = re.compile(r'^([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._/-][a-z0-9]+)*(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$')


@setting_utilities.default(CLI_IMAGE)
def _default_cli_image():
    return ''


@setting_utilities.validator(CLI_IMAGE)
def _validate_cli_image(doc):
    value = doc['value']
    if not isinstance(value, str):
        raise ValidationException('%s must be a string.' % CLI_IMAGE, 'value')
    doc['value'] = value = value.strip()
    if value and not _IMAGE_NAME.match(value):
        raise ValidationException(
            '%s must be a Docker image name with a tag or digest, as registered in slicer_cli_web '
            '(e.g. histomics-label/cli:latest), or empty for the local executor.' % CLI_IMAGE, 'value')

#: Embedding projects train on the resident trainer (features kept in memory between epochs, see
#: ``jobs/trainer.py``); False runs every epoch as a TrainAndPredict CLI job, as image-patch projects always do.
RESIDENT_TRAINER = 'histomics_label.resident_trainer'
#: Bytes of features the resident trainer keeps in memory (least recently used files evicted beyond).
TRAINER_CACHE_BYTES = 'histomics_label.trainer_cache_bytes'
#: How the resident trainer stores features: float16 (half the memory, ~1e-3 relative precision), bfloat16 (the
#: same memory, ~4e-3, multiplied ~7x faster on CPUs with AMX), float32, or auto (bfloat16 where the trainer's
#: CPU has AMX, else float16; decided on the trainer's machine).
CACHE_DTYPES = ('auto',) + DTYPES
TRAINER_CACHE_DTYPE = 'histomics_label.trainer_cache_dtype'
#: Celery queue of the resident trainer's tasks; empty: girder_worker's default queue. A dedicated queue
#: served by one worker process with a solo pool keeps the cache in one process, next to no other job.
TRAINER_QUEUE = 'histomics_label.trainer_queue'
_QUEUE_NAME = re.compile(r'^[A-Za-z0-9_.:-]{0,200}$')
TRAINER_DEFAULTS = {RESIDENT_TRAINER: True, TRAINER_CACHE_BYTES: 4 * 1024 ** 3, TRAINER_CACHE_DTYPE: 'auto',
                    TRAINER_QUEUE: ''}


def _trainer_default(key):
    setting_utilities.default(key)(lambda: TRAINER_DEFAULTS[key])


for _key in TRAINER_DEFAULTS:
    _trainer_default(_key)


@setting_utilities.validator(RESIDENT_TRAINER)
def _validate_resident_trainer(doc):
    if not isinstance(doc['value'], bool):
        raise ValidationException('%s must be true or false.' % RESIDENT_TRAINER, 'value')


@setting_utilities.validator(TRAINER_CACHE_BYTES)
def _validate_cache_bytes(doc):
    value = doc['value']
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationException('%s must be a number of bytes (an integer >= 0).' % TRAINER_CACHE_BYTES, 'value')


@setting_utilities.validator(TRAINER_CACHE_DTYPE)
def _validate_cache_dtype(doc):
    if doc['value'] not in CACHE_DTYPES:
        raise ValidationException('%s must be one of %s.' % (TRAINER_CACHE_DTYPE, ', '.join(CACHE_DTYPES)), 'value')


@setting_utilities.validator(TRAINER_QUEUE)
def _validate_trainer_queue(doc):
    value = doc['value']
    if not isinstance(value, str) or not _QUEUE_NAME.match(value.strip()):
        raise ValidationException('%s must be a Celery queue name (letters, digits, _ . : -) or empty.' %
                                  TRAINER_QUEUE, 'value')
    doc['value'] = value.strip()
