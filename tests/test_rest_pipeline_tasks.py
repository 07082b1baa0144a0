"""The tasks pipeline CLIs fetch in Girder mode, and the epoch manifest TrainAndPredict reads."""
import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk


@pytest.mark.plugin('histomics_label')
def test_segmentation_task_carries_the_slide_the_settings_and_the_data_folder(server, admin, project, slide_item):
    from girder.models.folder import Folder

    resp = server.request('/histomics_label/project/%s/slide/%s/task/segmentation' % (
        project['_id'], slide_item['_id']), user=admin)
    assertStatusOk(resp)
    task = resp.json
    assert task['inputs'] == {'inputImageFile': {'fileId': str(slide_item['largeImage']['fileId']),
                                                 'name': 'CMU-1-Small-Region.svs'}}
    assert task['parameters'] == {'magnification': project['settings']['magnification'],
                                  'radius': project['settings']['radius']}
    assert task['outputs'] == {'outputSuperpixelImage': 'CMU-1-Small-Region superpixels.tiff',
                               'outputSuperpixelData': 'CMU-1-Small-Region superpixels.npz',
                               'outputAnnotationFile': 'superpixels.anot'}
    folder = Folder().load(task['dataFolderId'], force=True)
    assert folder['name'] == 'Histomics Label data' and folder['parentId'] == project['folderId']
    assert task['report'] == 'histomics_label/project/%s/slide/%s/superpixels' % (project['_id'], slide_item['_id'])


@pytest.mark.plugin('histomics_label')
def test_a_task_for_an_unknown_stage_or_a_slide_not_ready_is_a_400(server, admin, project, slide_item):
    base = '/histomics_label/project/%s/slide/%s/task/' % (project['_id'], slide_item['_id'])
    resp = server.request(base + 'features', user=admin)
    assertStatus(resp, 400)
    assert 'is not segmented yet' in resp.json['message']
    assertStatus(server.request(base + 'training', user=admin), 400)
    resp = server.request('/histomics_label/project/%s/slide/%s/task/segmentation' % (project['_id'], admin['_id']),
                          user=admin)
    assertStatus(resp, 400)


@pytest.mark.plugin('histomics_label')
def test_only_the_epoch_in_training_has_a_manifest(server, admin, project):
    resp = server.request('/histomics_label/project/%s/epoch/1' % project['_id'], user=admin)
    assertStatus(resp, 400)
    assert resp.json['message'] == 'Epoch 1 is not the epoch in training.'
