"""Model output imported back as predictions to review: an export's own mask and GeoJSON round-trip onto the
superpixels under their centroids, a reviewer accepts them with verdicts, and bad files are 400s that store
nothing."""
import io
import json
import zipfile

import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

from test_api_shapes import documented_examples
from test_cards import real_segmentation  # noqa: F401 (fixture)
from test_export import export, local_path, result_label_file, study  # noqa: F401 (fixtures)


def upload(user, project, name, data):
    from girder.models.folder import Folder
    from girder.models.upload import Upload

    return Upload().uploadFromFile(io.BytesIO(data), len(data), name, parentType='folder',
                                   parent=Folder().load(project['folderId'], force=True), user=user)


def expected_under_centroids(project, slide):
    """Superpixel -> the effective category id of the superpixel its centroid lies in (None: no label)."""
    from histomics_label.core.label_image import read_label_image
    from histomics_label.models.review import slide_effective_labels
    from histomics_label.models.superpixels import SuperpixelGeometry

    labels, _ = read_label_image(local_path(result_label_file(slide)))
    effective = slide_effective_labels(project, slide['itemId'])
    centroids, _ = SuperpixelGeometry().geometry(slide)
    under = labels[centroids[:, 1].astype(int), centroids[:, 0].astype(int)]
    return {sp: (effective.get(int(u)) or {}).get('categoryId') for sp, u in enumerate(under)}


@pytest.mark.plugin('histomics_label')
def test_an_exports_mask_and_geojson_come_back_as_predictions_to_review(server, admin, study):  # noqa: F811
    from histomics_label.models.prediction import Prediction
    from histomics_label.models.project import Project

    project, slide = study['project'], study['slide']
    base = '/histomics_label/project/%s/slide/%s/import' % (project['_id'], slide['itemId'])
    job = export(server, admin, project, formats=['masks', 'geojson'])
    manifest = json.load(open(local_path(server.request(
        '/histomics_label/project/%s/export' % project['_id'], user=admin).json[0]['manifestFileId'])))
    files = {entry['name']: entry for entry in manifest['files']}
    expected = expected_under_centroids(project, slide)
    covered = {sp: category for sp, category in expected.items() if category is not None}
    assert job['status'] == 3 and len(covered) > 30

    resp = server.request(base, method='POST', user=admin, params={
        'fileId': files['masks/0000 CMU-1-Small-Region.mask.tiff']['fileId'], 'name': 'mask model'})
    assertStatusOk(resp)  # the mask names its codes in its description
    assert resp.json['covered'] == len(covered) and resp.json['superpixels'] == study['result'].count

    with zipfile.ZipFile(local_path(files['geojson.zip']['fileId'])) as archive:
        collection = json.loads(archive.read(archive.namelist()[0]))
    for number, feature in enumerate(collection['features']):
        feature['properties']['certainty'] = number / 100
    # the model disagrees on one labeled superpixel and predicts one unlabeled superpixel (a box round its centroid)
    changed = next(f for f in collection['features'] if f['properties']['category'] == 'Tumor'
                   and covered.get(f['properties']['superpixel']) is not None
                   and expected_under_centroids(project, slide)[f['properties']['superpixel']] is not None)
    changed['properties']['classification']['name'] = 'Stroma'
    fresh = 200
    x, y = (float(v) for v in study['result'].centroids[fresh])
    collection['features'].append({'type': 'Feature', 'properties': {'category': 'Fat'}, 'geometry': {
        'type': 'Polygon', 'coordinates': [[[x - 2, y - 2], [x + 2, y - 2], [x + 2, y + 2], [x - 2, y + 2],
                                            [x - 2, y - 2]]]}})
    file = upload(admin, project, 'model.geojson', json.dumps(collection).encode())
    resp = server.request(base, method='POST', user=admin, params={'fileId': str(file['_id']), 'name': 'polygons'})
    assertStatusOk(resp)
    unlabeled = sum(1 for f in collection['features'] if f['properties']['category'] is None)
    assert resp.json['skippedFeatures'] == unlabeled
    assert resp.json['covered'] == len(covered) + 1
    documented = documented_examples()
    assert set(resp.json) == set(documented['Import result'])

    rows = server.request(base, user=admin, params={'limit': 0}).json
    assert [s['name'] for s in rows['sources']] == ['mask model', 'polygons']
    assert rows['total'] == 2 * len(covered) + 1
    assert set(rows) == set(documented['Imported predictions'])
    assert set(rows['rows'][0]) == set(documented['Imported predictions']['rows'][0])
    assert set(rows['sources'][0]) == set(documented['Imported predictions']['sources'][0])
    for row in rows['rows']:
        if row['name'] == 'mask model':
            assert row['categoryId'] == str(covered[row['superpixel']])
    certainties = [row['certainty'] for row in rows['rows'] if row['name'] == 'polygons']
    assert certainties[:-1] == sorted(certainties[:-1]) and certainties[-1] is None  # least certain first

    def listed(status):
        return {(row['name'], row['superpixel']): row for row in server.request(base, user=admin, params={
            'status': status, 'limit': 0}).json['rows']}

    under = changed['properties']['superpixel']
    assert list(listed('unreviewed')) == [('polygons', fresh)]
    assert listed('unreviewed')[('polygons', fresh)]['effective'] is None
    assert list(listed('disagree')) == [('polygons', under)]
    # the reviewer accepts both predictions with verdicts: they become the effective labels
    stroma = listed('disagree')[('polygons', under)]['categoryId']
    fat = listed('unreviewed')[('polygons', fresh)]['categoryId']
    assertStatusOk(server.request('/histomics_label/project/%s/review' % project['_id'], method='PUT', user=admin,
                                  type='application/json', body=json.dumps({
                                      'itemId': str(slide['itemId']), 'reviews': [
                                          {'superpixel': under, 'verdict': 'correct', 'categoryId': stroma},
                                          {'superpixel': fresh, 'verdict': 'agree', 'categoryId': fat}]})))
    assert listed('unreviewed') == {} and list(listed('disagree')) == [('mask model', under)]
    assert listed('agree')[('polygons', fresh)]['effective'] == {'categoryId': fat, 'rule': 'adjudicated'}

    # imports are not epochs: a new epoch keeps them, and the model's predictions are untouched
    assert Prediction().slide_arrays(project, slide) is not None
    Project().publish_epoch(project, 3, [0])
    assert server.request(base, user=admin).json['total'] == 2 * len(covered) + 1


@pytest.mark.plugin('histomics_label')
def test_a_bad_import_is_a_400_that_stores_nothing(server, admin, project, segmented):
    from histomics_label.models.category import Category
    from histomics_label.models.prediction import Prediction

    Category().create(project, 'Tumor')
    base = '/histomics_label/project/%s/slide/%s/import' % (project['_id'], segmented['itemId'])
    square = {'type': 'Feature', 'properties': {'category': 'Necrosis'},
              'geometry': {'type': 'Polygon', 'coordinates': [[[0, 0], [500, 0], [500, 500], [0, 500], [0, 0]]]}}
    far = dict(square, properties={'category': 'Tumor'}, geometry={'type': 'Polygon', 'coordinates': [
        [[9000, 9000], [9100, 9000], [9100, 9100], [9000, 9000]]]})
    cases = [
        ('bad.json', b'{not json', {}, 'is not JSON'),
        ('list.geojson', b'[1, 2]', {}, 'is not a GeoJSON FeatureCollection'),
        ('unknown.geojson', json.dumps({'type': 'FeatureCollection', 'features': [square]}).encode(), {},
         'Unknown categories (create them first, or rename): Necrosis'),
        ('far.geojson', json.dumps({'type': 'FeatureCollection', 'features': [far]}).encode(), {},
         'covers no superpixel'),
        ('broken.geojson', json.dumps({'type': 'FeatureCollection', 'features': [dict(square, geometry={
            'type': 'Polygon', 'coordinates': [['x']]})]}).encode(), {}, 'feature 0 has malformed coordinates'),
        ('mask.png', b'not an image', {'codes': '{"1": "Tumor"}'}, 'is not a readable label image'),
        ('mask.png', b'not an image', {}, 'Give codes'),
        ('mask.png', b'', {'codes': '{"one": "Tumor"}'}, 'codes'),
        ('x.geojson', b'{}', {'name': ' '}, 'name has 1-100 characters'),
    ]
    for name, data, params, message in cases:
        file = upload(admin, project, name, data)
        resp = server.request(base, method='POST', user=admin, params=dict({'fileId': str(file['_id'])}, **params))
        assertStatus(resp, 400)
        assert message in resp.json['message'], (name, resp.json['message'])
    assert Prediction().collection.count_documents({}) == 0
    resp = server.request(base, user=admin, params={'status': 'maybe'})
    assertStatus(resp, 400)
