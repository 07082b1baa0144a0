"""REST: the CLI catalog and the per-slide tissue-detection job endpoint (auth and validation)."""
import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk


def job_count():
    from girder_jobs.models.job import Job

    return Job().find({}).count()


@pytest.mark.plugin('histomics_label')
def test_cli_catalog(server, labeler):
    assertStatus(server.request('/histomics_label/cli'), 401)
    resp = server.request('/histomics_label/cli', user=labeler)
    assertStatusOk(resp)
    tissue = {cli['name']: cli for cli in resp.json}['TissueDetection']
    assert tissue['title'] == 'Tissue Detection'
    assert 'inputImageFile' in tissue['parameters']


@pytest.mark.plugin('histomics_label')
def test_tissue_detection_rejects_anonymous_and_read_only_users(server, slide_item, labeler):
    path = '/histomics_label/slide/%s/tissue_detection' % slide_item['_id']
    assertStatus(server.request(path, method='POST'), 401)
    # the labeler can read the public folder but not write to it
    resp = server.request(path, method='POST', user=labeler)
    assertStatus(resp, 403)
    assert job_count() == 0


@pytest.mark.plugin('histomics_label')
@pytest.mark.parametrize('params,message', [
    ({'analysisSize': 64}, 'analysisSize must be at least 128, got 64'),
    ({'analysisSize': 'big'}, 'analysisSize'),
    ({'minAreaFraction': 0.9}, 'minAreaFraction must be at most 0.5, got 0.9'),
])
def test_tissue_detection_rejects_bad_parameters(server, slide_item, admin, params, message):
    resp = server.request('/histomics_label/slide/%s/tissue_detection' % slide_item['_id'],
                          method='POST', user=admin, params=params)
    assertStatus(resp, 400)
    assert message in resp.json['message']
    assert job_count() == 0


@pytest.mark.plugin('histomics_label')
def test_tissue_detection_rejects_items_that_are_not_large_images(server, admin, slide_item):
    from girder.models.folder import Folder
    from girder.models.item import Item

    folder = Folder().load(slide_item['folderId'], force=True)
    plain = Item().createItem('notes.txt', admin, folder)
    resp = server.request('/histomics_label/slide/%s/tissue_detection' % plain['_id'],
                          method='POST', user=admin)
    assertStatus(resp, 400)
    assert 'not a large image' in resp.json['message']
    missing = server.request('/histomics_label/slide/%s/tissue_detection' % ('0' * 24),
                             method='POST', user=admin)
    assertStatus(missing, 400)
    assert job_count() == 0
