"""Guardrails against automation bias: known-answer items mixed into GET next, and per labeler their accuracy on
them and the share of model suggestions accepted as they are, in GET status."""
import concurrent.futures
import json

import pytest
from pytest_girder.assertions import assertStatus

from conftest import SUPERPIXELS
from study_fixtures import call, ingest_predictions, label, ok, set_roles, team  # noqa: F401 (fixture)
from test_api_shapes import documented_examples
from test_rest_predictions import category_ids  # noqa: F401 (fixture)

KNOWN = range(40)  # the superpixels a reviewer decided


@pytest.fixture(autouse=True)
def fresh_pool(monkeypatch):
    """Every request reads the verdicts anew (in service they are reused for up to 30 s)."""
    from histomics_label.services import known_answers

    monkeypatch.setattr(known_answers, 'POOL_TTL', -1)


@pytest.fixture
def guided(server, admin, labeler, project, segmented, category_ids):  # noqa: F811 (fixture)
    """Epoch 1 published; the admin decided superpixels 0-39, each to a category the model did not predict;
    ``labeler`` may write. Returns (arrays, {superpixel: known category id})."""
    from girder.constants import AccessType
    from girder.models.folder import Folder

    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    arrays = ingest_predictions(server, admin, project, category_ids)
    answers = {sp: category_ids[(arrays['predicted'][sp] + 1) % 3] for sp in KNOWN}
    review(server, admin, project, segmented['itemId'], answers)
    return arrays, answers


def review(server, user, project, item_id, answers, verdict='correct'):
    ok(call(server, user, project, '/review', 'PUT', {'itemId': str(item_id), 'reviews': [
        {'superpixel': sp, 'verdict': verdict, 'categoryId': category} for sp, category in answers.items()]}))


def set_share(server, admin, project, share):
    ok(call(server, admin, project, '', 'PUT', settings=json.dumps({'knownAnswerShare': share})))


def queue(server, user, project, limit, offset=0):
    return ok(call(server, user, project, '/next', limit=limit, offset=offset))


def write(server, user, project, item_id, pairs, **extra):
    """PUT labels [(superpixel, category id)] with extra body fields (source, epoch)."""
    return ok(call(server, user, project, '/label', 'PUT', dict({'itemId': str(item_id), 'labels': [
        {'superpixel': int(sp), 'categoryId': category} for sp, category in pairs]}, **extra)))


def my_row(server, user, project):
    rows = ok(call(server, user, project, '/status'))['guardrails']['users']
    return next(row for row in rows if row['userId'] == str(user['_id']))


@pytest.mark.plugin('histomics_label')
@pytest.mark.parametrize('share', [0.1, 0.25, 0.5])
def test_the_share_is_honoured_over_pages_and_paging_is_stable(server, admin, labeler, project, guided, share):
    set_share(server, admin, project, share)
    pages = [row for offset in range(0, 60, 10) for row in queue(server, labeler, project, 10, offset)]
    superpixels = [row['superpixel'] for row in pages]
    assert superpixels == [row['superpixel'] for row in queue(server, labeler, project, 60)]  # stable paging
    assert superpixels == [row['superpixel'] for row in queue(server, labeler, project, 60)]  # deterministic
    for length in (20, 40, 60):  # any stretch holds length * share of them, give or take one
        assert abs(sum(sp in KNOWN for sp in superpixels[:length]) - length * share) <= 1
    everything = [row['superpixel'] for row in queue(server, labeler, project, 1000)]
    assert sorted(everything) == list(range(SUPERPIXELS))  # every superpixel once: known ones are not repeated
    # the ranked rows keep the ranking's order; the admin decided them all, so gets none as a known answer
    ranking = [sp for sp in guided[0]['ranking'].tolist() if sp not in KNOWN]
    assert [sp for sp in everything if sp not in KNOWN] == ranking
    assert [row['superpixel'] for row in queue(server, admin, project, 20)] == guided[0]['ranking'][:20].tolist()


@pytest.mark.plugin('histomics_label')
def test_known_answer_rows_are_unmarked_and_do_not_tell_the_answer(server, admin, labeler, project, guided,
                                                                   category_ids):  # noqa: F811 (fixture)
    arrays, answers = guided
    off = queue(server, labeler, project, 30)
    set_share(server, admin, project, 0.5)
    rows = queue(server, labeler, project, 30)
    known = [row for row in rows if row['superpixel'] in KNOWN]
    assert 14 <= len(known) <= 16
    assert {frozenset(row) for row in rows} == {frozenset(off[0])}  # the same keys on every row
    for row in known:  # prediction fields as for any superpixel: the model's, never the reviewer's answer
        assert row['categoryId'] == category_ids[arrays['predicted'][row['superpixel']]]
        assert row['categoryId'] != answers[row['superpixel']]
        assert row['certainty'] == pytest.approx(arrays['certainty'][row['superpixel']], abs=1e-4)


@pytest.mark.plugin('histomics_label')
def test_my_labeled_superpixels_never_come_back(server, admin, labeler, project, segmented, guided,
                                                category_ids):  # noqa: F811 (fixture)
    set_share(server, admin, project, 0.3)
    shown = [row['superpixel'] for row in queue(server, labeler, project, 20)]
    mine = set(shown) | set(range(30, 40)) | {90, 91}  # what the queue showed, more known ones and two others
    label(server, labeler, project, segmented['itemId'], [(sp, category_ids[0]) for sp in mine])
    rest = [row['superpixel'] for offset in range(0, 100, 7) for row in queue(server, labeler, project, 7, offset)]
    assert not mine & set(rest)
    assert sorted(rest) == sorted(set(range(SUPERPIXELS)) - mine)
    assert abs(sum(sp in KNOWN for sp in rest[:40]) - 12) <= 1


@pytest.mark.plugin('histomics_label')
def test_blinded_raters_get_known_answers_without_predictions_or_their_score(server, admin, project, segmented,
                                                                               team, category_ids):  # noqa: F811
    ingest_predictions(server, admin, project, category_ids)
    review(server, team['reviewer'], project, segmented['itemId'], {sp: category_ids[0] for sp in KNOWN})
    set_roles(server, admin, project, team, blinded=True)
    set_share(server, admin, project, 0.25)
    rows = queue(server, team['trainee'], project, 40)
    assert abs(sum(row['superpixel'] in KNOWN for row in rows) - 10) <= 1
    assert all(row[key] is None for row in rows for key in ('categoryId', 'probabilities', 'certainty'))
    label(server, team['trainee'], project, segmented['itemId'], [(sp, category_ids[0]) for sp in range(5)])
    assert my_row(server, team['trainee'], project)['knownAnswers'] == {
        'answered': None, 'correct': None, 'accuracy': None}
    lead_view = next(row for row in ok(call(server, team['lead'], project, '/status'))['guardrails']['users']
                     if row['userId'] == str(team['trainee']['_id']))
    assert lead_view['knownAnswers'] == {'answered': 5, 'correct': 5, 'accuracy': 1.0}


@pytest.mark.plugin('histomics_label')
def test_accuracy_counts_first_answers_exactly(server, admin, labeler, project, segmented, guided,
                                               category_ids):  # noqa: F811 (fixture)
    from histomics_label.models.category import Category

    _, answers = guided
    item = segmented['itemId']
    right, wrong = list(range(0, 7)), list(range(7, 10))
    other = {sp: next(c for c in category_ids if c != answers[sp]) for sp in KNOWN}
    write(server, labeler, project, item, [(sp, answers[sp]) for sp in right] + [(sp, other[sp]) for sp in wrong],
          source='guided')
    expected = {'answered': 10, 'correct': 7, 'accuracy': 0.7}
    assert my_row(server, labeler, project)['knownAnswers'] == expected
    # second answers never count: a correction, an undo, a clear and a relabel, a paint over it
    write(server, labeler, project, item, [(sp, answers[sp]) for sp in wrong])
    ok(call(server, labeler, project, '/label/undo', 'POST'))
    write(server, labeler, project, item, [(0, None)])
    write(server, labeler, project, item, [(0, other[0])])
    write(server, labeler, project, item, [(50, category_ids[0]), (51, category_ids[1])])  # not known answers
    assert my_row(server, labeler, project)['knownAnswers'] == expected
    # the reviewer's own verdicts are no test for them
    write(server, admin, project, item, [(sp, answers[sp]) for sp in range(11, 20)])
    rows = ok(call(server, admin, project, '/status'))['guardrails']['users']
    assert [row['login'] for row in rows] == ['labeler']  # the admin sees everyone who has counts: not themselves
    # paint counts as well; the answer is compared after merges (a merged-away answer counts as its target)
    merged_into = next(c for c in category_ids if c != answers[10])
    Category().merge(Category().load(answers[10], force=True), Category().load(merged_into, force=True))
    write(server, labeler, project, item, [(10, merged_into)])
    assert my_row(server, labeler, project)['knownAnswers'] == {'answered': 11, 'correct': 8, 'accuracy': 0.7273}


@pytest.mark.plugin('histomics_label')
def test_suggestions_accepted_and_corrected_in_guided_writes(server, admin, labeler, project, segmented, guided,
                                                             category_ids):  # noqa: F811 (fixture)
    arrays, _ = guided
    item = segmented['itemId']
    predicted = {sp: category_ids[arrays['predicted'][sp]] for sp in range(SUPERPIXELS)}
    changed = {sp: category_ids[(arrays['predicted'][sp] + 1) % 3] for sp in range(SUPERPIXELS)}
    write(server, labeler, project, item, [(sp, predicted[sp]) for sp in range(60, 66)], source='guided', epoch=1)
    write(server, labeler, project, item, [(sp, changed[sp]) for sp in range(66, 70)], source='guided', epoch=1)
    expected = {'answered': 10, 'accepted': 6, 'corrected': 4, 'acceptedShare': 0.6}
    assert my_row(server, labeler, project)['suggestions'] == expected
    # no suggestion was shown: no epoch, a painted label, an epoch without predictions; nor a second answer
    write(server, labeler, project, item, [(70, predicted[70])], source='guided')
    write(server, labeler, project, item, [(71, predicted[71])], source='paint', epoch=1)
    write(server, labeler, project, item, [(72, predicted[72])], source='guided', epoch=7)
    write(server, labeler, project, item, [(60, changed[60])], source='guided', epoch=1)
    assert my_row(server, labeler, project)['suggestions'] == expected
    # a guided answer on a known-answer item counts in both
    write(server, labeler, project, item, [(0, predicted[0])], source='guided', epoch=1)
    row = my_row(server, labeler, project)
    assert row['suggestions'] == {'answered': 11, 'accepted': 7, 'corrected': 4, 'acceptedShare': 0.6364}
    assert row['knownAnswers'] == {'answered': 1, 'correct': 0, 'accuracy': 0.0}
    # the previous epoch still counts after the next one lands; older ones are gone
    ingest_predictions(server, admin, project, category_ids, epoch=2)
    write(server, labeler, project, item, [(73, predicted[73])], source='guided', epoch=1)
    assert my_row(server, labeler, project)['suggestions']['accepted'] == 8


@pytest.mark.plugin('histomics_label')
def test_leads_reviewers_and_admins_see_everyone_raters_only_themselves(server, admin, project, segmented, team,
                                                                         category_ids):  # noqa: F811 (fixture)
    set_roles(server, admin, project, team)
    review(server, team['reviewer'], project, segmented['itemId'], {sp: category_ids[0] for sp in KNOWN})
    for name, category in (('expert', category_ids[0]), ('trainee', category_ids[1])):
        label(server, team[name], project, segmented['itemId'], [(sp, category) for sp in range(4)])
    raters = {str(team['expert']['_id']), str(team['trainee']['_id'])}
    for name in ('lead', 'reviewer'):
        guardrails = ok(call(server, team[name], project, '/status'))['guardrails']
        assert {row['userId'] for row in guardrails['users']} == raters
    guardrails = ok(call(server, admin, project, '/status'))['guardrails']
    documented = documented_examples()['Status']['guardrails']
    assert set(guardrails) == set(documented)
    for key in ('knownAnswers', 'suggestions'):  # the shape docs/api.md shows, key by key
        assert set(guardrails['users'][0]) == set(documented['users'][0])
        assert set(guardrails['users'][0][key]) == set(documented['users'][0][key])
    rows = {row['login']: row for row in guardrails['users']}
    assert rows['expert']['knownAnswers'] == {'answered': 4, 'correct': 4, 'accuracy': 1.0}
    assert rows['trainee']['knownAnswers'] == {'answered': 4, 'correct': 0, 'accuracy': 0.0}
    assert rows['trainee']['name'] == 'Trainee User'
    for name in ('expert', 'trainee', 'outsider'):
        guardrails = ok(call(server, team[name], project, '/status'))['guardrails']
        assert [row['login'] for row in guardrails['users']] == [name]
        assert guardrails['knownAnswerShare'] == 0.0
    assert my_row(server, team['outsider'], project)['suggestions'] == {
        'answered': 0, 'accepted': 0, 'corrected': 0, 'acceptedShare': None}


@pytest.mark.plugin('histomics_label')
def test_without_roles_only_folder_admins_see_everyone(server, admin, labeler, project, segmented, guided):
    _, answers = guided
    write(server, labeler, project, segmented['itemId'], [(sp, answers[sp]) for sp in range(3)])
    assert [row['login'] for row in ok(call(server, labeler, project, '/status'))['guardrails']['users']] == [
        'labeler']
    assert [row['login'] for row in ok(call(server, admin, project, '/status'))['guardrails']['users']] == [
        'labeler']


@pytest.mark.plugin('histomics_label')
@pytest.mark.parametrize('share', [0.51, -0.1, '0.1', True, None, 'NaN'])
def test_bad_shares_are_a_400_and_write_nothing(server, admin, project, slide_item, share):
    from girder.models.collection import Collection
    from girder.models.folder import Folder

    from histomics_label.models.project import Project

    set_share(server, admin, project, 0.2)
    settings = '{"knownAnswerShare": %s}' % ('NaN' if share == 'NaN' else json.dumps(share))
    resp = call(server, admin, project, '', 'PUT', settings=settings)
    assertStatus(resp, 400)
    assert 'knownAnswerShare' in resp.json['message']
    assert Project().load(project['_id'], force=True)['settings']['knownAnswerShare'] == 0.2
    folder = Folder().createFolder(Collection().findOne(), 'Other', parentType='collection', creator=admin)
    resp = server.request('/histomics_label/project', method='POST', user=admin, params={
        'folderId': str(folder['_id']), 'settings': settings})
    assertStatus(resp, 400)
    assert Project().find().count() == 1


@pytest.mark.plugin('histomics_label')
def test_valid_shares_are_stored_as_numbers(server, admin, project):
    for share, stored in ((0, 0.0), (0.5, 0.5), (0.05, 0.05)):
        set_share(server, admin, project, share)
        assert ok(call(server, admin, project, ''))['settings']['knownAnswerShare'] == stored
        assert ok(call(server, admin, project, '/status'))['guardrails']['knownAnswerShare'] == stored


@pytest.mark.plugin('histomics_label')
def test_concurrent_writers_keep_exact_counts(server, admin, project, segmented, guided, category_ids):  # noqa
    """Eight labelers write at once, one superpixel per write: every first answer is counted once."""
    from girder.constants import AccessType
    from girder.models.folder import Folder
    from girder.models.user import User

    from histomics_label.models.category import Category
    from histomics_label.models.guardrails import Guardrails
    from histomics_label.models.label import Label
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    arrays, answers = guided
    project = Project().load(project['_id'], force=True)  # at epoch 1 now
    folder = Folder().load(project['folderId'], force=True)
    users = [User().createUser('rater%d' % n, 'password', 'R', str(n), 'r%d@example.com' % n) for n in range(8)]
    for user in users:
        Folder().setUserAccess(folder, user, AccessType.WRITE, save=False)
    Folder().save(folder)
    slide = ProjectSlide().findOne({'itemId': segmented['itemId']})
    centroids = SuperpixelGeometry().geometry(slide)[0]
    categories = Category().list(project)

    def choice(n, sp):  # the known answer, the model's suggestion (never the answer here) or the third category
        return category_ids[(arrays['predicted'][sp] + (1, 0, 2)[(sp + n) % 3]) % 3]

    def work(n, user):
        for sp in range(30):
            labels = [{'superpixel': sp, 'categoryId': choice(n, sp)}]
            _, _, write_id = Label().write(project, slide, user, labels, categories, centroids, 'guided', 1)
            Guardrails().record(project, slide, user, labels, categories, 'guided', 1, write_id)

    with concurrent.futures.ThreadPoolExecutor(len(users)) as pool:
        list(pool.map(work, range(len(users)), users))  # re-raises a writer's exception
    rows = {row['login']: row for row in ok(call(server, admin, project, '/status'))['guardrails']['users']}
    assert set(rows) == {user['login'] for user in users}
    for n, user in enumerate(users):
        correct = sum(choice(n, sp) == answers[sp] for sp in range(30))
        accepted = sum(choice(n, sp) == category_ids[arrays['predicted'][sp]] for sp in range(30))
        assert (correct, accepted) == (10, 10)
        assert rows[user['login']]['knownAnswers'] == {'answered': 30, 'correct': 10, 'accuracy': 0.3333}
        assert rows[user['login']]['suggestions'] == {
            'answered': 30, 'accepted': 10, 'corrected': 20, 'acceptedShare': 0.3333}
