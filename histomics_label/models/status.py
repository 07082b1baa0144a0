"""Progress of a project, slide by slide, as the status endpoint and the dashboard show it."""
from .label import LabelHistory
from .label_stats import LabelStats
from .slide import ProjectSlide
from .states import StageStatus


def _label_counts(project, user_id):
    """(everyone's, ``user_id``'s) current labels per slide item id, from the project's label counters."""
    slides = LabelStats().read(project['_id'], LabelHistory().collection)['slides']
    everyone = {item: sum(users.values()) for item, users in slides.items()}
    mine = {item: users.get(str(user_id), 0) for item, users in slides.items()}
    return everyone, mine


def project_status(project, user):
    """Per slide: superpixels, stage states, labels (everyone's and the caller's), predicted epoch; the slides
    whose items were deleted (their labels stay, counted in ``totals.labeled``) and the archive state."""
    everyone, mine = _label_counts(project, user['_id'])
    slides = []
    for slide in ProjectSlide().list(project):
        slides.append({
            'itemId': slide['itemId'], 'name': slide['name'], 'index': slide['index'],
            'superpixelCount': slide.get('superpixelCount'),
            'segmented': slide['segmentation'].get('status') == StageStatus.DONE,
            'featurized': slide['features'].get('status') == StageStatus.DONE,
            'segmentation': slide['segmentation'], 'features': slide['features'],
            'labeled': everyone.get(str(slide['itemId']), 0), 'labeledByMe': mine.get(str(slide['itemId']), 0),
            'predictedEpoch': slide.get('epoch'),
        })
    return {
        'projectId': project['_id'], 'epoch': project.get('epoch', 0), 'slides': slides,
        'model': project.get('model'), 'training': project.get('training'),
        'removedSlides': project.get('removedSlides', []), 'archived': project.get('archived'),
        'totals': {
            'slides': len(slides),
            'segmented': sum(s['segmented'] for s in slides),
            'featurized': sum(s['featurized'] for s in slides),
            'superpixels': sum(s['superpixelCount'] or 0 for s in slides),
            'labeled': sum(everyone.values()), 'labeledByMe': sum(mine.values()),
        },
    }
