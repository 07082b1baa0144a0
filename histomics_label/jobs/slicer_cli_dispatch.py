"""Run a pipeline CLI as a slicer_cli_web Docker job (a DSA site): the CLI item registered from our image is
found by image and name, and slicer_cli_web builds and queues the ``docker run`` the worker executes, filling
in the API URL and a token for the CLI's Girder mode. The job carries ``histomicsLabel`` details like a local
one, so a failure is recorded on the slide or the training the same way.
"""
from kombu.exceptions import OperationalError

from girder.constants import AccessType
from girder.exceptions import RestException
from girder.models.item import Item
from girder.models.token import Token
from girder_jobs.models.job import Job

from .launcher import fail_unqueued_job, unreachable_queue


def find_cli_item(image, name, user):
    """The slicer_cli_web CLI item ``name`` of ``image``: 503 if the image or the CLI is not registered,
    403 if ``user`` may not run it."""
    from slicer_cli_web.models import CLIItem

    item = Item().findOne({'meta.slicerCLIType': 'task', 'meta.image': image, 'name': name})
    if item is None:
        raise RestException(
            'The CLI %s of image %s is not registered in slicer_cli_web; register the image (Girder admin > '
            'slicer_cli_web) or clear the histomics_label.cli_image setting.' % (name, image), code=503)
    Item().requireAccess(item, user, AccessType.READ)
    return CLIItem(item)


def dispatch(image, name, parameters, user, title, details):
    """Queue the Docker job for CLI ``name`` of ``image`` with ``parameters`` (name -> value); returns it."""
    from slicer_cli_web.rest_slicer_cli import genHandlerToRunDockerCLI

    cli_item = find_cli_item(image, name, user)
    handler = genHandlerToRunDockerCLI(cli_item)
    token = Token().createToken(user=user, days=7)
    # empty API URL and token parameters are what make slicer_cli_web pass the worker's URL and the job's token
    params = dict({key: str(value) for key, value in parameters.items()}, girderApiUrl='', girderToken='')
    try:
        result = handler.subHandler(cli_item, params, user, token)
    except OperationalError as exc:
        fail_unqueued_job({'type': '%s#%s' % (cli_item.image, name), 'userId': user['_id'],
                           'histomicsLabel': None, 'status': 0}, exc)
        raise unreachable_queue(exc)
    Job().update({'_id': result.job['_id']}, {'$set': {'title': title, 'histomicsLabel': details}})
    return Job().load(result.job['_id'], force=True)
