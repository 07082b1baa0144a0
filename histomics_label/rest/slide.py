"""``/histomics_label/slide/{itemId}/...``: per-slide jobs."""
from girder.api import access
from girder.api.describe import Description, autoDescribeRoute
from girder.api.rest import getCurrentUser
from girder.constants import AccessType
from girder.exceptions import ValidationException
from girder.models.item import Item
from girder_jobs.models.job import Job

from ..jobs.launcher import launch_cli
from ..jobs.pipeline import require_large_image


class SlideEndpoints:
    def __init__(self, root):
        root.route('POST', ('slide', ':itemId', 'tissue_detection'), self.detect_tissue)

    @access.user
    @autoDescribeRoute(
        Description('Detect the tissue on a slide; the job adds a "Tissue" polygon annotation to it.')
        .modelParam('itemId', 'The slide (a large image item).', model=Item, level=AccessType.WRITE,
                    destName='item')
        .param('analysisSize', 'Longest side of the overview the tissue is found on (128-8192).',
               dataType='integer', required=False, default=2048)
        .param('minAreaFraction', 'Drop regions smaller than this fraction of the overview (0-0.5).',
               dataType='float', required=False, default=0.001)
        .errorResponse('The item is not a large image or a parameter is out of range.', 400)
        .errorResponse('You must be logged in.', 401)
        .errorResponse('Write access was denied on the item.', 403)
        .errorResponse('The job queue is unreachable.', 503)
    )
    def detect_tissue(self, item, analysisSize, minAreaFraction):
        require_large_image(item)
        if not 128 <= analysisSize <= 8192:
            raise ValidationException('analysisSize must be between 128 and 8192.', 'analysisSize')
        if not 0 <= minAreaFraction <= 0.5:
            raise ValidationException('minAreaFraction must be between 0 and 0.5.', 'minAreaFraction')
        user = getCurrentUser()
        job = launch_cli('TissueDetection', {
            'itemId': item['_id'], 'analysisSize': analysisSize, 'minAreaFraction': minAreaFraction,
        }, user, title='Tissue detection: %s' % item['name'], details={'itemId': str(item['_id'])})
        return Job().filter(job, user)
