"""docs/api.md documents what every noun of the API looks like; the live responses have exactly those keys
(and the project's ``training`` exactly its documented keys: internal fields never go out)."""
import json
import os
import re

import pytest
from pytest_girder.assertions import assertStatusOk

from conftest import REPO, SLIDE
from test_rest_predictions import make_arrays, upload_predictions

HEADING = re.compile(r'^### (.+?) \(', re.M)


def documented_examples():
    """Heading name -> the JSON example under it in docs/api.md."""
    with open(os.path.join(REPO, 'docs', 'api.md')) as f:
        text = f.read()
    examples = {}
    for match in HEADING.finditer(text):
        block = re.search(r'```json\n(.*?)```', text[match.end():], re.S)
        if block and not HEADING.search(text[match.end():match.end() + block.start()]):
            examples[match.group(1)] = json.loads(block.group(1))
    return examples


def test_docs_have_an_example_per_noun():
    assert set(documented_examples()) >= {
        'Project', 'Category', 'Slide', 'Label', 'Label history entry', 'Label write result', 'Effective label',
        'Review', 'Next superpixel', 'Predictions of a slide', 'Status', 'Undo', 'Label counts', 'Review queue'}


@pytest.mark.plugin('histomics_label')
def test_responses_have_exactly_the_documented_keys(server, admin, project, segmented, fsAssetstore):
    from girder.models.folder import Folder
    from girder.models.upload import Upload

    from histomics_label.models.project import Project

    docs = documented_examples()
    base = '/histomics_label/project/%s' % project['_id']

    def call(path, method='GET', **kwargs):
        resp = server.request(base + path, method=method, user=admin, **kwargs)
        assertStatusOk(resp)
        return resp.json

    item = str(segmented['itemId'])
    tumor = call('/category', 'POST', params={'name': 'Tumor', 'hotkey': '1'})
    stroma = call('/category', 'POST', params={'name': 'Stroma'})
    written = call('/label', 'PUT', type='application/json', body=json.dumps({'itemId': item, 'labels': [
        {'superpixel': i, 'categoryId': tumor['_id']} for i in range(3)]}))
    call('/review', 'PUT', type='application/json', body=json.dumps({'itemId': item, 'reviews': [
        {'superpixel': 0, 'verdict': 'correct', 'categoryId': stroma['_id'], 'comment': 'stroma'}]}))
    predictions = upload_predictions(admin, project['folderId'], make_arrays([tumor['_id'], stroma['_id']]))
    call('/epoch/1/predictions', 'POST', params={'fileId': str(predictions['_id'])})
    Project().update({'_id': project['_id']}, {'$set': {'training': {
        'epoch': 2, 'status': 'running', 'jobId': None, 'error': None, 'started': None,
        'manifestFileId': predictions['_id']}, 'labelsSinceTraining': 3}})
    folder = Folder().load(project['folderId'], force=True)
    with open(SLIDE, 'rb') as f:
        Upload().uploadFromFile(f, os.path.getsize(SLIDE), 'second.svs', parentType='folder', parent=folder,
                                user=admin)

    live = {
        'Project': call(''), 'Category': tumor, 'Slide': call('/slides', 'POST')[0],
        'Label': call('/label')[0], 'Label history entry': call('/label/history')[0],
        'Label write result': written, 'Effective label': call('/label/effective', params={'itemId': item})[0],
        'Review': call('/review')[0], 'Next superpixel': call('/next')[0], 'Label counts': call('/label/counts'),
        'Review queue': call('/review/queue'), 'Undo': call('/label/undo', 'POST'),
        'Predictions of a slide': call('/slide/%s/predictions' % item), 'Status': call('/status'),
    }
    assert 'manifestFileId' not in live['Project']['training']
    for noun, response in live.items():
        assert set(response) == set(docs[noun]), noun
    assert set(live['Project']['training']) == set(docs['Project']['training'])
    assert set(live['Status']['slides'][0]) == set(docs['Status']['slides'][0])
    assert set(live['Status']['totals']) == set(docs['Status']['totals'])
    assert set(live['Review queue']['rows'][0]) == set(docs['Review queue']['rows'][0])
    assert live['Status']['training'] == live['Project']['training']
    assert call('')['_accessLevel'] == 2
