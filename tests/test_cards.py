"""What film-strip and review cards show: a superpixel's picture with its outline, and the review queue
(every rater's label, verdicts, effective label, prediction) filtered, sorted and paged on the server."""
import io
import json
import os

import numpy as np
import PIL.Image
import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

from conftest import ARTIFACTS, SLIDE, upload_large_image
from test_rest_predictions import make_arrays, upload_predictions


@pytest.fixture
def real_segmentation(admin, project, slide_item, tmp_path):
    """The CMU slide segmented by our SLIC (radius 150 at half resolution), stored as the pipeline does."""
    from histomics_label.core.superpixels import compute_superpixels
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    path = str(tmp_path / 'labels.tiff')
    result = compute_superpixels(SLIDE, output_path=path, radius=150)
    label_item = upload_large_image(path, 'labels.tiff', Project().data_folder(project, admin), admin)
    slide = ProjectSlide().findOne({'itemId': slide_item['_id']})
    slide = SuperpixelGeometry().store(slide, result.centroids, result.bboxes, labelItemId=label_item['_id'],
                                       scale=result.scale)
    return slide, result


@pytest.mark.plugin('histomics_label')
def test_a_superpixel_picture_outlines_that_superpixel(server, admin, labeler, project, real_segmentation):
    slide, result = real_segmentation
    superpixel = int(np.argmax(result.areas))
    path = '/histomics_label/project/%s/slide/%s/superpixel/%d/image' % (project['_id'], slide['itemId'],
                                                                         superpixel)
    resp = server.request(path, user=labeler, params={'size': 128}, isJson=False)  # read access is enough
    assertStatusOk(resp)
    assert resp.headers['Content-Type'] == 'image/jpeg'
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, 'superpixel_card.jpg'), 'wb') as f:
        f.write(resp.collapse_body())
    image = np.asarray(PIL.Image.open(io.BytesIO(resp.collapse_body())).convert('RGB')).astype(int)
    assert max(image.shape[:2]) <= 128 and min(image.shape[:2]) > 64
    yellow = (image[..., 0] > 200) & (image[..., 1] > 170) & (image[..., 2] < 90)
    assert yellow.sum() > 50  # the outline is drawn
    # the outline surrounds the superpixel: its box is the superpixel's box inside the crop (in crop pixels)
    left, top, right, bottom = result.bboxes[superpixel]
    side = max(right - left, bottom - top) * 2
    ys, xs = np.nonzero(yellow)
    scale = side / max(image.shape[:2])
    assert abs((xs.max() - xs.min() + 1) * scale - (right - left)) < 0.15 * (right - left)
    assert abs((ys.max() - ys.min() + 1) * scale - (bottom - top)) < 0.15 * (bottom - top)

    resp = server.request(path.replace('/%d/image' % superpixel, '/%d/image' % result.count), user=labeler)
    assertStatus(resp, 400)
    assert 'does not exist on this slide' in resp.json['message']


@pytest.mark.plugin('histomics_label')
def test_the_review_queue_filters_sorts_and_pages(server, admin, labeler, project, segmented):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    from histomics_label.models.category import Category

    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    tumor, stroma = (str(Category().create(project, name)['_id']) for name in ('Tumor', 'Stroma'))
    item = str(segmented['itemId'])
    base = '/histomics_label/project/%s' % project['_id']

    def put(user, route, body):
        assertStatusOk(server.request(base + route, method='PUT', user=user, type='application/json',
                                      body=json.dumps(dict(body, itemId=item))))

    put(admin, '/label', {'labels': [{'superpixel': i, 'categoryId': tumor} for i in range(6)]})
    put(labeler, '/label', {'labels': [{'superpixel': i, 'categoryId': tumor if i < 3 else stroma}
                                       for i in range(2, 5)]})
    put(admin, '/review', {'reviews': [{'superpixel': 4, 'verdict': 'correct', 'categoryId': stroma}]})
    arrays = make_arrays([tumor, stroma])
    arrays['predicted'][:] = 1
    file = upload_predictions(admin, project['folderId'], arrays)
    assertStatusOk(server.request(base + '/epoch/1/predictions', method='POST', user=admin,
                                  params={'fileId': str(file['_id'])}))

    def queue(**params):
        resp = server.request(base + '/review/queue', user=labeler, params=params)
        assertStatusOk(resp)
        return resp.json

    everything = queue()
    assert everything['total'] == 6
    first = everything['rows'][0]  # disputed first: superpixel 3 (tumor vs stroma, no verdict)
    assert (first['superpixel'], first['rule'], first['categoryId']) == (3, 'disputed', None)
    assert sorted(label['categoryId'] for label in first['labels']) == sorted([stroma, tumor])
    assert first['predicted'] == {'categoryId': stroma, 'certainty': round(float(arrays['certainty'][3]), 4),
                                  'confidence': round(float(arrays['probabilities'][3].astype('float16').max()), 4)}
    by_superpixel = {row['superpixel']: row for row in everything['rows']}
    assert by_superpixel[4]['rule'] == 'adjudicated' and by_superpixel[4]['categoryId'] == stroma
    assert by_superpixel[4]['reviews'][0]['verdict'] == 'correct'
    assert [r['superpixel'] for r in queue(agreement='disagree', sort='slide')['rows']] == [3, 4]
    assert [r['superpixel'] for r in queue(labelerId=str(labeler['_id']), sort='slide')['rows']] == [2, 3, 4]
    assert [r['superpixel'] for r in queue(categoryId=tumor, sort='slide')['rows']] == [0, 1, 2, 5]
    assert [r['superpixel'] for r in queue(reviewed='yes')['rows']] == [4]
    assert queue(predictedId=tumor)['total'] == 0
    page = queue(sort='slide', limit=2, offset=2)
    assert page['total'] == 6 and [r['superpixel'] for r in page['rows']] == [2, 3]
    resp = server.request(base + '/review/queue', user=labeler, params={'sort': 'random'})
    assertStatus(resp, 400)
