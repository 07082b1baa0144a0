"""Site settings of the plugin (Girder ``system/setting`` keys), with their validation and defaults."""
import re

from girder.exceptions import ValidationException
from girder.utility import setting_utilities

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
