"""The slicer_cli_web executor (a DSA site): the CLI item registered from our image is found by image and
name, and slicer_cli_web builds and queues the ``docker run`` the worker executes, filling in the API URL and
a token for the CLI's Girder mode. The job carries ``histomicsLabel`` details like a local one, so a failure
is recorded on the slide or the training the same way."""
from girder.constants import AccessType
from girder.exceptions import RestException
from girder.models.item import Item
from girder.models.token import Token
from girder_jobs.models.job import Job
from slicer_cli_web.models import CLIItem
from slicer_cli_web.rest_slicer_cli import genHandlerToRunDockerCLI

from .base import Executor, failing_unqueued_jobs


def find_cli_item(image, name, user):
    """The slicer_cli_web CLI item ``name`` of ``image``: 503 if the image or the CLI is not registered,
    403 if ``user`` may not run it."""
    item = Item().findOne({'meta.slicerCLIType': 'task', 'meta.image': image, 'name': name})
    if item is None:
        raise RestException(
            'The CLI %s of image %s is not registered in slicer_cli_web; register the image (Girder admin > '
            'slicer_cli_web) or clear the histomics_label.cli_image setting.' % (name, image), code=503)
    Item().requireAccess(item, user, AccessType.READ)
    return CLIItem(item)


class SlicerCliExecutor(Executor):
    def __init__(self, image):
        self.image = image

    def launch(self, name, parameters, user, title, details):
        cli_item = find_cli_item(self.image, name, user)
        handler = genHandlerToRunDockerCLI(cli_item)
        token = Token().createToken(user=user, days=7)
        # empty API URL and token parameters make slicer_cli_web pass the worker's URL and the job's token
        params = dict({key: str(value) for key, value in parameters.items()}, girderApiUrl='', girderToken='')
        with failing_unqueued_jobs(title, details):
            result = handler.subHandler(cli_item, params, user, token)
        Job().update({'_id': result.job['_id']}, {'$set': {'title': title, 'histomicsLabel': details}})
        return Job().load(result.job['_id'], force=True)
