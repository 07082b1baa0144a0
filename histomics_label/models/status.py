"""Progress of a project, slide by slide, as the status endpoint and the dashboard show it."""
from .label import Label
from .slide import ProjectSlide
from .states import StageStatus


def _label_counts(project, user_id=None):
    match = {'projectId': project['_id']}
    if user_id is not None:
        match['userId'] = user_id
    rows = Label().collection.aggregate([
        {'$match': match}, {'$group': {'_id': '$itemId', 'count': {'$sum': 1}}}])
    return {row['_id']: row['count'] for row in rows}


def project_status(project, user):
    """Per slide: superpixels, stage states, labels (everyone's and the caller's), predicted epoch; the slides
    whose items were deleted (their labels stay, counted in ``totals.labeled``) and the archive state."""
    everyone, mine = _label_counts(project), _label_counts(project, user['_id'])
    slides = []
    for slide in ProjectSlide().list(project):
        slides.append({
            'itemId': slide['itemId'], 'name': slide['name'], 'index': slide['index'],
            'superpixelCount': slide.get('superpixelCount'),
            'segmented': slide['segmentation'].get('status') == StageStatus.DONE,
            'featurized': slide['features'].get('status') == StageStatus.DONE,
            'segmentation': slide['segmentation'], 'features': slide['features'],
            'labeled': everyone.get(slide['itemId'], 0), 'labeledByMe': mine.get(slide['itemId'], 0),
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
