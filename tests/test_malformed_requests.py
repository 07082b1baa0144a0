"""Bad input never reaches the database as a 500: a table of malformed requests across every route, each a
4xx with a message that says what is wrong, and nothing written by any of them."""
import json

import pytest

from conftest import SUPERPIXELS
from plugin_routes import coverage_gaps

P, I, C = '{p}', '{i}', '{c}'  # project, slide item, category ids
NO_ID, BAD_ID = '0' * 24, 'abc'
PROJECT_ROUTES = [  # every route under project/{id}: method, path, parameters that make it otherwise valid
    ('GET', 'project/{p}', {}), ('PUT', 'project/{p}', {}), ('DELETE', 'project/{p}', {}),
    ('GET', 'project/{p}/status', {}), ('POST', 'project/{p}/slides', {}),
    ('GET', 'project/{p}/category', {}), ('POST', 'project/{p}/category', {'name': 'New'}),
    ('PUT', 'project/{p}/label', None), ('GET', 'project/{p}/label', {}),
    ('GET', 'project/{p}/label/history', {}), ('GET', 'project/{p}/label/effective', {'itemId': I}),
    ('GET', 'project/{p}/label/counts', {}), ('POST', 'project/{p}/label/undo', {}),
    ('PUT', 'project/{p}/review', None), ('GET', 'project/{p}/review', {}), ('GET', 'project/{p}/review/queue', {}),
    ('GET', 'project/{p}/slide/{i}/superpixel/0/image', {}),
    ('POST', 'project/{p}/segment', {}), ('POST', 'project/{p}/featurize', {}), ('POST', 'project/{p}/train', {}),
    ('POST', 'project/{p}/epoch', {}), ('GET', 'project/{p}/epoch/1', {}),
    ('GET', 'project/{p}/slide/{i}/task/segmentation', {}),
    ('POST', 'project/{p}/slide/{i}/superpixels', {'outputs': '{}'}),
    ('POST', 'project/{p}/slide/{i}/features', {'outputs': '{}'}),
    ('POST', 'project/{p}/epoch/1/predictions', {'fileId': NO_ID}),
    ('GET', 'project/{p}/next', {}), ('GET', 'project/{p}/slide/{i}/predictions', {}),
    ('POST', 'project/{p}/annotations', {}), ('POST', 'project/{p}/import_v1', {}),
    ('GET', 'project/{p}/agreement', {}),
    ('POST', 'project/{p}/export', {}), ('GET', 'project/{p}/export', {}),
    ('POST', 'project/{p}/slide/{i}/import', {'fileId': NO_ID}), ('GET', 'project/{p}/slide/{i}/import', {}),
    ('GET', 'project/{p}/study', {}), ('PUT', 'project/{p}/study', {}), ('GET', 'project/{p}/assignment', {}),
    ('POST', 'project/{p}/assignment', {}), ('DELETE', 'project/{p}/assignment/' + NO_ID, {}),
    ('GET', 'project/{p}/queue', {}), ('GET', 'project/{p}/dashboard', {}),
    ('GET', 'project/{p}/quality', {}), ('POST', 'project/{p}/epoch/1/quality', {}),
]
EXEMPT = {  # routes of the plugin no request below reaches, and why
    ('GET', 'cli'),  # takes no parameter and no id: there is nothing to malform
}


def label_body(**fields):
    return dict({'itemId': I, 'labels': [{'superpixel': 0, 'categoryId': C}]}, **fields)


def review_body(**fields):
    return dict({'itemId': I, 'reviews': [{'superpixel': 0, 'verdict': 'agree', 'categoryId': C}]}, **fields)


def quality_body(**fields):
    return dict({'categoryIds': [C, NO_ID], 'confusion': [[1, 0], [0, 1]], 'labels': 2, 'folds': 2}, **fields)


# method, path, query parameters, JSON body (or None), expected status, words the message must contain
SPECIFIC = [
    # ids of the wrong type or shape in JSON bodies (these were 500s)
    ('PUT', 'project/{p}/label', {}, label_body(itemId=5), 400, "body.itemId: 5 is not of type 'string'"),
    ('PUT', 'project/{p}/label', {}, label_body(itemId=[I]), 400, 'body.itemId'),
    ('PUT', 'project/{p}/label', {}, label_body(itemId=None), 400, 'body.itemId'),
    ('PUT', 'project/{p}/label', {}, label_body(itemId='xyz'), 400, "body.itemId: 'xyz' does not match"),
    ('PUT', 'project/{p}/label', {}, label_body(itemId=NO_ID), 400, 'is not a slide of project'),
    ('PUT', 'project/{p}/label', {}, {'labels': [{'superpixel': 0, 'categoryId': C}]}, 400,
     "'itemId' is a required property"),
    ('PUT', 'project/{p}/label', {}, label_body(labels='all'), 400, "body.labels: 'all' is not of type 'array'"),
    ('PUT', 'project/{p}/label', {}, label_body(labels=[]), 400, 'body.labels: [] should be non-empty'),
    ('PUT', 'project/{p}/label', {}, label_body(labels=[5]), 400, "body.labels[0]: 5 is not of type 'object'"),
    ('PUT', 'project/{p}/label', {}, label_body(labels=[{'superpixel': 0}]), 400, "'categoryId' is a required"),
    ('PUT', 'project/{p}/label', {}, label_body(labels=[{'superpixel': True, 'categoryId': C}]), 400,
     'body.labels[0].superpixel'),
    ('PUT', 'project/{p}/label', {}, label_body(labels=[{'superpixel': 1.5, 'categoryId': C}]), 400,
     'body.labels[0].superpixel'),
    ('PUT', 'project/{p}/label', {}, label_body(labels=[{'superpixel': SUPERPIXELS, 'categoryId': C}]), 400,
     'does not exist on this slide'),
    ('PUT', 'project/{p}/label', {}, label_body(labels=[{'superpixel': 0, 'categoryId': 7}]), 400,
     'body.labels[0].categoryId'),
    ('PUT', 'project/{p}/label', {}, label_body(labels=[{'superpixel': 0, 'categoryId': NO_ID}]), 400,
     'Unknown or merged category'),
    ('PUT', 'project/{p}/label', {}, label_body(labels=[{'superpixel': 0, 'categoryId': C, 'x': 1}]), 400,
     'Additional properties are not allowed'),
    ('PUT', 'project/{p}/label', {}, label_body(epoch=-1), 400, 'body.epoch: -1 is less than the minimum of 0'),
    ('PUT', 'project/{p}/label', {}, label_body(epoch='2'), 400, 'body.epoch'),
    ('PUT', 'project/{p}/label', {}, label_body(source='magic'), 400, "body.source: 'magic' is not one of"),
    ('PUT', 'project/{p}/label', {}, label_body(extra=1), 400, "('extra' was unexpected)"),
    ('PUT', 'project/{p}/label', {}, [label_body()], 400, "is not of type 'object'"),
    ('PUT', 'project/{p}/label', {}, '{not json', 400, 'Invalid JSON'),
    ('PUT', 'project/{p}/review', {}, review_body(itemId=5), 400, 'body.itemId'),
    ('PUT', 'project/{p}/review', {}, review_body(itemId=[I]), 400, 'body.itemId'),
    ('PUT', 'project/{p}/review', {}, review_body(reviews={}), 400, 'body.reviews'),
    ('PUT', 'project/{p}/review', {}, review_body(reviews=[{'superpixel': 0, 'verdict': 'maybe'}]), 400,
     "body.reviews[0].verdict: 'maybe' is not one of"),
    ('PUT', 'project/{p}/review', {}, review_body(reviews=[{'superpixel': -3, 'verdict': 'flag'}]), 400,
     'body.reviews[0].superpixel: -3 is less than the minimum of 0'),
    ('PUT', 'project/{p}/review', {}, review_body(reviews=[{'superpixel': 0, 'verdict': 'correct'}]), 400,
     'needs a known, unmerged categoryId'),
    ('PUT', 'project/{p}/review', {}, review_body(reviews=[{'superpixel': 0, 'verdict': 'flag', 'comment': 5}]),
     400, 'body.reviews[0].comment'),
    # paging, sorting, integers and booleans in query parameters
    ('GET', 'project/{p}/label', {'offset': -5}, None, 400, 'offset must be at least 0, got -5'),
    ('GET', 'project/{p}/label', {'limit': -1}, None, 400, 'limit must be at least 0, got -1'),
    ('GET', 'project/{p}/label', {'limit': 'ten'}, None, 400, 'Invalid value for integer parameter limit'),
    ('GET', 'project/{p}/label', {'sort': 'x'}, None, 400, 'Invalid value for sort: "x"'),
    ('GET', 'project/{p}/label', {'sortdir': 2}, None, 400, 'Invalid value for sortdir'),
    ('GET', 'project/{p}/label', {'itemId': 12}, None, 400, 'itemId must be an id (24 hex digits)'),
    ('GET', 'project/{p}/label', {'userId': 'me'}, None, 400, 'userId must be an id'),
    ('GET', 'project/{p}/label', {'categoryIds': '{"a": 1}'}, None, 400, 'categoryIds'),
    ('GET', 'project/{p}/label', {'categoryIds': '["nope"]'}, None, 400, "categoryIds[0]: 'nope' does not match"),
    ('GET', 'project/{p}/label', {'categoryIds': '[oops'}, None, 400, 'categoryIds must be valid JSON'),
    ('GET', 'project/{p}/label', {'region': '1,2,3'}, None, 400, 'region is "left,top,right,bottom"'),
    ('GET', 'project/{p}/label', {'region': '5,5,1,1'}, None, 400, 'region is'),
    ('GET', 'project/{p}/label/history', {'offset': -1}, None, 400, 'offset must be at least 0, got -1'),
    ('GET', 'project/{p}/label/history', {'superpixel': -2}, None, 400, 'superpixel must be at least 0'),
    ('GET', 'project/{p}/label/history', {'superpixel': 'one'}, None, 400, 'integer parameter superpixel'),
    ('GET', 'project/{p}/label/history', {'itemId': '[1]'}, None, 400, 'itemId must be an id'),
    ('GET', 'project/{p}/label/effective', {}, None, 400, 'Parameter "itemId" is required'),
    ('GET', 'project/{p}/label/effective', {'itemId': BAD_ID}, None, 400, 'itemId must be an id'),
    ('GET', 'project/{p}/label/effective', {'itemId': NO_ID}, None, 400, 'is not a slide of project'),
    ('GET', 'project/{p}/review', {'offset': -1}, None, 400, 'offset must be at least 0'),
    ('GET', 'project/{p}/review', {'verdict': 'maybe'}, None, 400, 'Invalid value for verdict'),
    ('GET', 'project/{p}/review', {'reviewerId': 'x'}, None, 400, 'reviewerId must be an id'),
    ('GET', 'project/{p}/review/queue', {'sort': 'random'}, None, 400, 'Invalid value for sort: "random"'),
    ('GET', 'project/{p}/review/queue', {'agreement': 'some'}, None, 400, 'Invalid value for agreement'),
    ('GET', 'project/{p}/review/queue', {'limit': 5000}, None, 400, 'limit must be at most 1000'),
    ('GET', 'project/{p}/review/queue', {'labelerId': 'me'}, None, 400, 'labelerId must be an id'),
    ('GET', 'project/{p}/slide/{i}/superpixel/-1/image', {}, None, 400, 'superpixel must be at least 0'),
    ('GET', 'project/{p}/slide/{i}/superpixel/0/image', {'size': 5}, None, 400, 'size must be at least 32'),
    ('GET', 'project/{p}/slide/{i}/superpixel/0/image', {}, None, 400, 'no superpixels with a label image'),
    ('GET', 'project/{p}/next', {'limit': 0}, None, 400, 'limit must be at least 1, got 0'),
    ('GET', 'project/{p}/next', {'limit': 5000}, None, 400, 'limit must be at most 1000, got 5000'),
    ('GET', 'project/{p}/next', {'offset': -1}, None, 400, 'offset must be at least 0, got -1'),
    ('GET', 'project/{p}/slide/{i}/predictions', {'probabilities': 'maybe'}, None, 400,
     "probabilities must be true or false, got 'maybe'"),
    ('GET', 'project/{p}/slide/' + BAD_ID + '/predictions', {}, None, 400, 'itemId must be an id'),
    ('GET', 'project/{p}/slide/' + NO_ID + '/predictions', {}, None, 400, 'is not a slide of project'),
    ('GET', 'project', {'offset': -1}, None, 400, 'offset must be at least 0'),
    ('GET', 'project', {'limit': 'all'}, None, 400, 'integer parameter limit'),
    # categories
    ('POST', 'project/{p}/category', {'name': 'X', 'excluded': 'maybe'}, None, 400,
     "excluded must be true or false, got 'maybe'"),
    ('POST', 'project/{p}/category', {}, None, 400, 'Parameter "name" is required'),
    ('POST', 'project/{p}/category', {'name': ' '}, None, 400, 'A category needs a name'),
    ('POST', 'project/{p}/category', {'name': 'Tumor'}, None, 400, 'is already used'),
    ('POST', 'project/{p}/category', {'name': 'X', 'fillColor': 'red'}, None, 400, 'fillColor must be'),
    ('POST', 'project/{p}/category', {'name': 'X', 'hotkey': 'F1'}, None, 400, 'A hotkey is one'),
    ('PUT', 'category/{c}', {'order': 'first'}, None, 400, 'integer parameter order'),
    ('PUT', 'category/{c}', {'order': -1}, None, 400, 'order must be at least 0'),
    ('PUT', 'category/{c}', {'excluded': 'perhaps'}, None, 400, 'excluded must be true or false'),
    ('PUT', 'category/' + BAD_ID, {}, None, 400, 'Invalid ObjectId'),
    ('PUT', 'category/' + NO_ID, {}, None, 400, 'Invalid histomics_label_category id'),
    ('POST', 'category/{c}/merge', {}, None, 400, 'Parameter "into" is required'),
    ('POST', 'category/{c}/merge', {'into': BAD_ID}, None, 400, 'Invalid ObjectId'),
    ('POST', 'category/{c}/merge', {'into': NO_ID}, None, 400, 'Invalid histomics_label_category id'),
    ('POST', 'category/{c}/merge', {'into': C}, None, 400, 'merges into another category'),
    ('POST', 'category/' + BAD_ID + '/unmerge', {}, None, 400, 'Invalid ObjectId'),
    ('DELETE', 'category/{c}', {}, None, 400, 'is in use; merge it'),
    # projects
    ('POST', 'project', {}, None, 400, 'Parameter "folderId" is required'),
    ('POST', 'project', {'folderId': BAD_ID}, None, 400, 'Invalid ObjectId'),
    ('POST', 'project', {'folderId': '{f}'}, None, 400, 'already holds project'),
    ('POST', 'project', {'folderId': '{f}', 'settings': '[1]'}, None, 400, 'settings must be a JSON object'),
    ('PUT', 'project/{p}', {'settings': '{"radius": "big"}'}, None, 400, 'Setting radius must be a int'),
    ('PUT', 'project/{p}', {'settings': '{"radius": 3}'}, None, 400, 'Setting radius is out of range'),
    ('PUT', 'project/{p}', {'settings': '{"colour": 1}'}, None, 400, "Unknown setting 'colour'"),
    ('PUT', 'project/{p}', {'settings': '{"retrainInterval": true}'}, None, 400, 'Setting retrainInterval'),
    ('PUT', 'project/{p}', {'settings': '{"knownAnswerShare": 0.6}'}, None, 400, 'Setting knownAnswerShare'),
    ('PUT', 'project/{p}', {'settings': 'nope'}, None, 400, 'settings must be valid JSON'),
    ('DELETE', 'project/{p}', {'deleteLabels': 'maybe'}, None, 400, 'deleteLabels must be true or false'),
    ('DELETE', 'project/{p}', {}, None, 400, 'labels'),
    # the pipeline refuses states it cannot handle
    ('POST', 'project/{p}/segment', {'itemIds': '["{i}"]'}, None, 400, 'has labels on its superpixels'),
    ('POST', 'project/{p}/segment', {'itemIds': '"{i}"'}, None, 400, "itemIds: '"),
    ('POST', 'project/{p}/segment', {'itemIds': '[5]'}, None, 400, "itemIds[0]: 5 is not of type 'string'"),
    ('POST', 'project/{p}/segment', {'itemIds': '["' + NO_ID + '"]'}, None, 400, 'is not a slide of project'),
    ('POST', 'project/{p}/featurize', {'itemIds': '{}'}, None, 400, "itemIds: {} is not of type 'array'"),
    ('POST', 'project/{p}/train', {}, None, 400, 'at least two categories'),
    ('POST', 'project/{p}/epoch', {}, None, 400, 'at least two categories'),
    ('GET', 'project/{p}/epoch/0', {}, None, 400, 'epoch must be at least 1, got 0'),
    ('GET', 'project/{p}/epoch/x', {}, None, 400, 'integer parameter epoch'),
    ('GET', 'project/{p}/epoch/3', {}, None, 400, 'is not the epoch in training'),
    ('GET', 'project/{p}/slide/{i}/task/painting', {}, None, 400, 'Invalid value for stage'),
    ('GET', 'project/{p}/slide/' + BAD_ID + '/task/segmentation', {}, None, 400, 'itemId must be an id'),
    ('POST', 'project/{p}/slide/{i}/superpixels', {'outputs': '[]'}, None, 400, "outputs: [] is not of type"),
    ('POST', 'project/{p}/slide/{i}/superpixels', {'outputs': '{}'}, None, 400, 'is a required property'),
    ('POST', 'project/{p}/slide/{i}/superpixels', {'outputs': json.dumps({
        'outputSuperpixelImage': 5, 'outputSuperpixelData': {'fileId': NO_ID}})}, None, 400,
     "outputs.outputSuperpixelImage: 5 is not of type 'object'"),
    ('POST', 'project/{p}/slide/{i}/features', {'outputs': '"x"'}, None, 400, "outputs: 'x' is not of type"),
    ('POST', 'project/{p}/slide/{i}/features', {'outputs': '{"outputFeatures": []}'}, None, 400,
     "outputs.outputFeatures: [] is not of type 'object'"),
    ('POST', 'project/{p}/slide/{i}/features', {'outputs': '{"outputFeatures": {"fileId": 7}}'}, None, 400,
     'outputs.outputFeatures.fileId'),
    ('POST', 'project/{p}/slide/{i}/features', {'outputs': '{"outputFeatures": {"fileId": "{svs}"}}'}, None,
     400, 'is not usable as features'),
    ('POST', 'project/{p}/slide/{i}/features', {'outputs': '{"outputFeatures": {"fileId": "' + NO_ID + '"}}'},
     None, 400, 'No such file'),
    ('POST', 'project/{p}/epoch/1/predictions', {}, None, 400, 'Parameter "fileId" is required'),
    ('POST', 'project/{p}/epoch/1/predictions', {'fileId': BAD_ID}, None, 400, 'Invalid ObjectId: abc'),
    ('POST', 'project/{p}/epoch/1/predictions', {'fileId': NO_ID}, None, 400, 'Invalid file id'),
    ('POST', 'project/{p}/epoch/1/predictions', {'fileId': '{svs}'}, None, 400, 'is not a predictions .npz'),
    ('POST', 'project/{p}/epoch/1/predictions', {'fileId': '{svs}', 'model': '[]'}, None, 400,
     'model must be a JSON object'),
    ('POST', 'project/{p}/epoch/-1/predictions', {'fileId': '{svs}'}, None, 400, 'epoch must be at least 1'),
    ('POST', 'project/{p}/annotations', {'itemIds': '[1, 2]'}, None, 400, "is not of type 'string'"),
    ('POST', 'project/{p}/slide/{i}/import', {}, None, 400, 'Parameter "fileId" is required'),
    ('POST', 'project/{p}/slide/{i}/import', {'fileId': BAD_ID}, None, 400, 'Invalid ObjectId: abc'),
    ('POST', 'project/{p}/slide/{i}/import', {'fileId': NO_ID}, None, 400, 'Invalid file id'),
    # the quality the trainer measured
    ('POST', 'project/{p}/epoch/0/quality', {}, quality_body(), 400, 'epoch must be at least 1, got 0'),
    ('POST', 'project/{p}/epoch/1/quality', {}, quality_body(), 400, 'categoryIds must be categories of the'),
    ('POST', 'project/{p}/epoch/1/quality', {}, quality_body(categoryIds=[C, 'x']), 400,
     "body.categoryIds[1]: 'x' does not match"),
    ('POST', 'project/{p}/epoch/1/quality', {}, quality_body(categoryIds=[C]), 400, 'body.categoryIds'),
    ('POST', 'project/{p}/epoch/1/quality', {}, quality_body(confusion='x'), 400, 'body.confusion'),
    ('POST', 'project/{p}/epoch/1/quality', {}, quality_body(labels=-1), 400, 'body.labels: -1 is less than'),
    ('POST', 'project/{p}/epoch/1/quality', {}, quality_body(folds=1), 400, 'body.folds: 1 is less than'),
    ('POST', 'project/{p}/epoch/1/quality', {}, quality_body(extra=1), 400, "('extra' was unexpected)"),
    ('POST', 'project/{p}/epoch/1/quality', {}, {'categoryIds': [C, NO_ID]}, 400, "'confusion' is a required"),
    ('POST', 'slide/{i}/tissue_detection', {'analysisSize': 64}, None, 400, 'analysisSize must be at least 128'),
    ('POST', 'slide/{i}/tissue_detection', {'analysisSize': 1.5}, None, 400, 'integer parameter analysisSize'),
    ('POST', 'slide/{i}/tissue_detection', {'minAreaFraction': 'tiny'}, None, 400, 'numeric parameter'),
    ('POST', 'slide/{i}/tissue_detection', {'minAreaFraction': -1}, None, 400, 'minAreaFraction must be at least'),
    ('POST', 'slide/' + BAD_ID + '/tissue_detection', {}, None, 400, 'Invalid ObjectId'),
]


def snapshot():
    """Every document of every collection in the database (the plugin's, Girder's, its jobs' and its
    plugins'): what a request could write. Left out: the tokens the test client makes for each request
    (pytest-girder's ``request(user=...)``) and collections with no document (reading one may create it)."""
    from girder.models.file import File

    database = File().database
    found = {name: sorted(database[name].find({}), key=lambda d: str(d['_id']))
             for name in database.list_collection_names() if name != 'token'}
    return {name: docs for name, docs in sorted(found.items()) if docs}


def fill(value, ids):
    if isinstance(value, str):
        for key, replacement in ids.items():
            value = value.replace('{%s}' % key, replacement)
        return value
    if isinstance(value, dict):
        return {key: fill(v, ids) for key, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def cases():
    """The table: for every project route a malformed and an unknown project id, then the specific cases."""
    table = []
    for method, path, params in PROJECT_ROUTES:
        body = label_body() if path.endswith('/label') else review_body() if path.endswith('/review') else None
        for project_id, message in ((BAD_ID, 'Invalid ObjectId: abc'),
                                    (NO_ID, 'Invalid histomics_label_project id')):
            table.append((method, path.replace(P, project_id), params or {}, body, 400, message))
    return table + SPECIFIC


def test_the_table_has_at_least_100_malformed_requests():
    assert len(cases()) >= 100


@pytest.mark.plugin('histomics_label')
def test_the_table_reaches_every_route_of_the_plugin(server):
    missing, stale = coverage_gaps([(method, path) for method, path, *_ in cases()], EXEMPT)
    assert missing == [], 'routes with no malformed request (add one, or add the route to EXEMPT with the reason)'
    assert stale == [], 'requests that reach no route'


@pytest.mark.plugin('histomics_label')
def test_malformed_requests_are_4xx_with_a_message_and_write_nothing(server, admin, project, segmented):
    from girder.models.folder import Folder

    from histomics_label.models.category import Category
    from histomics_label.models.label import Label
    from histomics_label.models.superpixels import SuperpixelGeometry

    category = Category().create(project, 'Tumor')
    centroids, _ = SuperpixelGeometry().geometry(segmented)
    Label().write(project, segmented, admin, [{'superpixel': 0, 'categoryId': str(category['_id'])}],
                  Category().list(project), centroids)
    from girder.models.item import Item

    svs = next(Item().childFiles(Item().load(segmented['itemId'], force=True)))
    ids = {'p': str(project['_id']), 'i': str(segmented['itemId']), 'c': str(category['_id']),
           'f': str(Folder().load(project['folderId'], force=True)['_id']), 'svs': str(svs['_id'])}
    before = snapshot()
    failures = []
    for method, path, params, body, status, message in cases():
        kwargs = {'params': fill(params, ids)}
        if body is not None:
            kwargs.update(type='application/json', body=body if isinstance(body, str) else json.dumps(fill(body, ids)))
        resp = server.request('/histomics_label/' + fill(path, ids), method=method, user=admin, **kwargs)
        got = int(resp.output_status.split()[0])
        text = (resp.json or {}).get('message', '') if got != 200 else ''
        if got != status or fill(message, ids) not in text:
            failures.append('%s %s %s -> %d %r (expected %d with %r)' % (
                method, path, kwargs, got, text, status, message))
    assert not failures, '\n'.join(failures)
    assert snapshot() == before
