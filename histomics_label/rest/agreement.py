"""``/histomics_label/project/{id}/agreement``: live inter-rater agreement (:mod:`..models.agreement`)."""
from girder.api import access
from girder.api.rest import getCurrentUser
from girder.constants import AccessType

from ..models.agreement import Agreement
from ..models.label import Label
from ..models.study import Study
from .validation import Description, autoDescribeRoute

MAX_RESAMPLES = 10000


class AgreementEndpoints:
    def __init__(self, root):
        root.route('GET', ('project', ':id', 'agreement'), self.agreement)

    @access.user
    @autoDescribeRoute(
        Description('Chance-corrected agreement on the superpixels labeled by two or more raters, after '
                    'category merges: Fleiss\' kappa (Gwet\'s standard error) and Krippendorff\'s alpha '
                    '(bootstrap interval over superpixels) overall and per category (one vs rest), and '
                    'Cohen\'s kappa per rater pair (Fleiss-Cohen-Everitt standard error). Read from '
                    'statistics that every label write keeps up to date, never from the labels.')
        .projectParam(AccessType.READ)
        .numberParam('confidence', 'Confidence level of the intervals.', minimum=0.5, maximum=0.999,
                     required=False, default=0.95)
        .intParam('resamples', 'Bootstrap resamples for the alpha intervals (0: no alpha intervals).',
                  minimum=0, maximum=MAX_RESAMPLES, required=False, default=1000)
        .errorResponse('Bad confidence or resamples.', 400)
        .errorResponse('Read access was denied on the project folder.', 403)
    )
    def agreement(self, project, confidence, resamples):
        Study().require_unblinded(project, getCurrentUser(), 'agreement statistics (others\' labels)')
        return Agreement().report(project, Label(), confidence, resamples)
