"""The adjudication queue (review queue rows with issues: raters disagree, a confident model disagrees with the
label, flagged; ranked by model confidence) and routing (trainees get the confident items, experts the disputed
and uncertain ones)."""
import numpy as np
import pytest

from study_fixtures import call, ingest_predictions, label, ok, set_roles, team  # noqa: F401
from test_rest_predictions import make_arrays

#: superpixel -> (trainee's, trainee2's, expert's label; None: none), prediction row (tumor, stroma)
CASES = {
    0: (('T', 'S', None), (0.5, 0.5)),     # disputed: 1 vs 1
    1: (('T', 'T', 'S'), (0.3, 0.7)),      # consensus tumor, raters disagree
    2: (('T', None, None), (0.05, 0.95)),  # a confident model says stroma: likely label error
    3: (('T', None, None), (0.4, 0.6)),    # an unsure model says stroma: no issue at 0.9
    4: (('T', None, None), (0.99, 0.01)),  # the model agrees
    5: (('T', 'S', None), (0.2, 0.8)),     # disputed, then adjudicated by a reviewer
    6: (('S', None, None), (0.99, 0.01)),  # a very confident model says tumor: first in the queue
}


@pytest.fixture
def adjudication(server, admin, project, segmented, team):
    from histomics_label.models.category import Category

    tumor, stroma = (str(Category().create(project, name)['_id']) for name in ('Tumor', 'Stroma'))
    set_roles(server, admin, project, team)
    item = segmented['itemId']
    names = {'T': tumor, 'S': stroma}
    for column, rater in enumerate(('trainee', 'trainee2', 'expert')):
        label(server, team[rater], project, item, [(sp, names[votes[column]]) for sp, (votes, _) in CASES.items()
                                                   if votes[column]])
    ok(call(server, team['reviewer'], project, '/review', 'PUT', {'itemId': str(item), 'reviews': [
        {'superpixel': 5, 'verdict': 'correct', 'categoryId': stroma}]}))
    arrays = make_arrays([tumor, stroma], seed=4)
    for sp, (_, row) in CASES.items():
        arrays['probabilities'][sp] = row
    arrays['probabilities'][7:] = arrays['probabilities'][7:].clip(0.12, 0.88)  # the rest is unsure
    arrays['probabilities'][7:] /= arrays['probabilities'][7:].sum(axis=1, keepdims=True)
    arrays['predicted'] = arrays['probabilities'].argmax(axis=1)
    arrays['certainty'] = arrays['probabilities'].max(axis=1)
    arrays['ranking'] = np.argsort(arrays['certainty'], kind='stable')
    ingest_predictions(server, admin, project, [tumor, stroma], arrays)
    return {'tumor': tumor, 'stroma': stroma, 'item': str(item), 'arrays': arrays}


def queue(server, user, project, **params):
    return ok(call(server, user, project, '/review/queue', **params))


@pytest.mark.plugin('histomics_label')
def test_issues_ranked_by_model_confidence(server, admin, project, team, adjudication):
    rows = queue(server, team['reviewer'], project, issue='any', sort='confidence')['rows']
    assert [(row['superpixel'], row['issues']) for row in rows] == [
        (6, ['model']), (2, ['model']), (1, ['disagreement']), (0, ['disagreement'])]
    assert rows[0]['predicted'] == {'categoryId': adjudication['tumor'], 'certainty': 0.99, 'confidence': 0.9902}
    assert [r['superpixel'] for r in queue(server, admin, project, issue='model', sort='confidence')['rows']] == [6, 2]
    assert [r['superpixel'] for r in queue(server, admin, project, issue='disagreement', sort='slide')['rows']] == [
        0, 1]
    everything = {r['superpixel']: r['issues'] for r in queue(server, admin, project, limit=0)['rows']}
    assert everything[5] == [] and everything[3] == [] and everything[4] == []  # adjudicated / unsure / agrees
    # a lower confidentAt makes the unsure model's disagreements issues too
    ok(call(server, team['lead'], project, '/study', 'PUT', {'confidentAt': 0.6}))
    rows = queue(server, admin, project, issue='model', sort='confidence')['rows']
    assert [(r['superpixel'], r['issues']) for r in rows] == [
        (6, ['model']), (2, ['model']), (1, ['disagreement', 'model']), (3, ['model'])]
    # a flag is an issue; a verdict that names a category settles every issue of the superpixel
    ok(call(server, team['reviewer'], project, '/review', 'PUT', {'itemId': adjudication['item'], 'reviews': [
        {'superpixel': 4, 'verdict': 'flag'}, {'superpixel': 6, 'verdict': 'agree',
                                               'categoryId': adjudication['stroma']}]}))
    rows = queue(server, admin, project, issue='any', sort='confidence')['rows']
    assert [(r['superpixel'], r['issues']) for r in rows] == [
        (4, ['flagged']), (2, ['model']), (1, ['disagreement', 'model']), (3, ['model']), (0, ['disagreement'])]


@pytest.mark.plugin('histomics_label')
def test_routing_sends_confident_items_to_trainees_and_disputed_uncertain_ones_to_experts(
        server, admin, project, team, adjudication):
    arrays = adjudication['arrays']
    confidence = arrays['probabilities'].astype(np.float16).max(axis=1)
    order = arrays['ranking'].tolist()

    def next_of(name, limit=200):
        return [row['superpixel'] for row in ok(call(server, team[name], project, '/next', limit=limit))]

    labeled = {name: {sp for sp, (votes, _) in CASES.items() if votes[column]}
               for column, name in enumerate(('trainee', 'trainee2', 'expert'))}
    plain = next_of('trainee')
    assert plain == [sp for sp in order if sp not in labeled['trainee']]  # routing is off: the ranking
    ok(call(server, team['lead'], project, '/study', 'PUT', {'routing': True}))
    assert next_of('trainee2') == [sp for sp in order if confidence[sp] >= 0.9 and sp not in labeled['trainee2']]
    # experts: the disputed superpixel (0; 5 is adjudicated, 1 has a majority) first, then the uncertain ones
    assert next_of('expert') == [0] + [sp for sp in order if confidence[sp] < 0.9 and sp not in (0, 1)]
    # leads, reviewers and a user with both rater roles get the plain ranking
    assert next_of('lead', 10) == order[:10]
    ok(call(server, team['lead'], project, '/study', 'PUT', {'roles': {str(team['trainee2']['_id']): [
        'trainee', 'expert']}}))
    assert next_of('trainee2') == [sp for sp in order if sp not in labeled['trainee2']]
    # a new dispute reaches the experts' queue (after the reuse window of the dispute list)
    from histomics_label.services import study_queue

    label(server, team['trainee2'], project, adjudication['item'], [(2, adjudication['stroma'])])
    study_queue._disputes.clear()
    assert next_of('expert', 2) == [0, 2]
