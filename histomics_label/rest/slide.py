"""``/histomics_label/slide/{itemId}/...``: per-slide jobs."""
from girder.api import access
from girder.api.rest import getCurrentUser
from girder.constants import AccessType
from girder.models.item import Item
from girder_jobs.models.job import Job

from ..jobs.launcher import launch_cli
from ..jobs.pipeline import require_large_image
from .validation import Description, autoDescribeRoute


class SlideEndpoints:
    def __init__(self, root):
        root.route('POST', ('slide', ':itemId', 'tissue_detection'), self.detect_tissue)

    @access.user
    @autoDescribeRoute(
        Description('Detect the tissue on a slide; the job adds a "Tissue" polygon annotation to it.')
        .modelParam('itemId', 'The slide (a large image item).', model=Item, level=AccessType.WRITE,
                    destName='item')
        .intParam('analysisSize', 'Longest side of the overview the tissue is found on.', minimum=128,
                  maximum=8192, required=False, default=2048)
        .numberParam('minAreaFraction', 'Drop regions smaller than this fraction of the overview.', minimum=0,
                     maximum=0.5, required=False, default=0.001)
        .errorResponse('The item is not a large image or a parameter is out of range.', 400)
        .errorResponse('You must be logged in.', 401)
        .errorResponse('Write access was denied on the item.', 403)
        .errorResponse('The job queue is unreachable.', 503)
    )
    def detect_tissue(self, item, analysisSize, minAreaFraction):
        require_large_image(item)
        user = getCurrentUser()
        job = launch_cli('TissueDetection', {
            'itemId': item['_id'], 'analysisSize': analysisSize, 'minAreaFraction': minAreaFraction,
        }, user, title='Tissue detection: %s' % item['name'], details={'itemId': str(item['_id'])})
        return Job().filter(job, user)
