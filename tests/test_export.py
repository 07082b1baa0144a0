"""Exports: a job with progress whose files re-open and match the database (GeoJSON per slide, category masks,
COCO, Parquet), recorded splits, versions, and a failure that removes its partial folder and keeps the labels."""
import datetime
import hashlib
import io
import json
import time
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
import tifffile
from pytest_girder.assertions import assertStatus, assertStatusOk
from skimage.draw import polygon as draw_polygon

from conftest import wait_for_job
from test_cards import real_segmentation  # noqa: F401 (fixture)
from test_api_shapes import documented_examples
from test_rest_predictions import make_arrays


def local_path(file_id):
    from girder.models.file import File

    return File().getLocalFilePath(File().load(file_id, force=True))


def export(server, user, project, **params):
    resp = server.request('/histomics_label/project/%s/export' % project['_id'], method='POST', user=user,
                          params={key: json.dumps(value) if isinstance(value, (list, bool)) else value
                                  for key, value in params.items()})
    assertStatusOk(resp)
    return wait_for_job(resp.json['_id'], timeout=120, poll=0.1)


@pytest.fixture
def study(admin, labeler, project, real_segmentation, tmp_path):  # noqa: F811
    """Two raters, a verdict, an epoch of predictions and embeddings on the segmented CMU slide."""
    from girder.constants import AccessType
    from girder.models.folder import Folder
    from girder.models.upload import Upload

    from histomics_label.core.features.store import write_features
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label
    from histomics_label.models.prediction import store_epoch
    from histomics_label.models.project import Project
    from histomics_label.models.review import Review
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.states import StageStatus

    slide, result = real_segmentation
    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    tumor, stroma, fat = (Category().create(project, name) for name in ('Tumor', 'Stroma', 'Fat'))
    ids = [str(c['_id']) for c in (tumor, stroma, fat)]
    categories = Category().list(project)
    Label().write(project, slide, admin, [{'superpixel': i, 'categoryId': ids[i % 2]} for i in range(40)],
                  categories, result.centroids)
    Label().write(project, slide, labeler, [{'superpixel': i, 'categoryId': ids[i % 3]} for i in range(30, 70)],
                  categories, result.centroids)
    Review().write(project, slide, admin, [{'superpixel': 31, 'verdict': 'correct', 'categoryId': ids[2]},
                                           {'superpixel': 100, 'verdict': 'agree', 'categoryId': ids[0]},
                                           {'superpixel': 5, 'verdict': 'flag'}], categories)
    arrays = make_arrays(ids, count=result.count)
    arrays.pop('category_ids')
    store_epoch(project, 1, arrays, [c['_id'] for c in (tumor, stroma, fat)])
    project = Project().publish_epoch(project, 1, [0], {'kind': 'mlp'})
    embeddings = np.random.default_rng(1).normal(size=(result.count, 8)).astype(np.float32)
    path = str(tmp_path / 'features.h5')
    order = np.random.default_rng(2).permutation(result.count)  # rows need not be sorted by id
    write_features(path, order, embeddings[order], 'embedding', backbone='test')
    with open(path, 'rb') as f:
        data = f.read()
    file = Upload().uploadFromFile(io.BytesIO(data), len(data), 'features.h5', parentType='folder',
                                   parent=Project().data_folder(project, admin), user=admin)
    slide = ProjectSlide().set_stage(slide, 'features', StageStatus.DONE, fileId=file['_id'])
    return {'project': project, 'slide': slide, 'result': result, 'ids': ids, 'embeddings': embeddings,
            'arrays': arrays}


def database_view(project, slide):
    """What the export must show: per labeled superpixel the effective entry and {(user id, category id)}."""
    from histomics_label.models.label import Label
    from histomics_label.models.review import slide_effective_labels

    effective = slide_effective_labels(project, slide['itemId'])
    raters = {}
    for label in Label().find({'projectId': project['_id'], 'itemId': slide['itemId']}):
        raters.setdefault(label['superpixel'], set()).add((str(label['userId']), str(label['categoryId'])))
    return effective, raters


def rasterize(geometry, shape):
    """Even-odd fill of a GeoJSON (Multi)Polygon at pixel centres (coordinates are pixel-edge based)."""
    mask = np.zeros(shape, dtype=bool)
    polygons = [geometry['coordinates']] if geometry['type'] == 'Polygon' else geometry['coordinates']
    for polygon in polygons:
        for ring in polygon:
            ring = np.asarray(ring)
            rows, cols = draw_polygon(ring[:, 1] - 0.5, ring[:, 0] - 0.5, shape=shape)
            mask[rows, cols] ^= True
    return mask


@pytest.mark.plugin('histomics_label')
def test_an_export_reopens_and_matches_the_database(server, admin, labeler, study):
    from girder_jobs.constants import JobStatus
    from pycocotools.coco import COCO

    from histomics_label.core.label_image import read_label_image
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label
    from histomics_label.models.superpixels import SuperpixelGeometry

    project, slide, result = study['project'], study['slide'], study['result']
    job = export(server, labeler, project, includeEmbeddings=True, seed=3)
    assert job['status'] == JobStatus.SUCCESS, job['log']
    assert job['progress']['current'] == job['progress']['total'] > 0
    resp = server.request('/histomics_label/project/%s/export' % project['_id'], user=labeler)
    assertStatusOk(resp)
    [listed] = resp.json
    assert listed['version'] == 1 and listed['jobId'] == str(job['_id'])
    documented = documented_examples()['Export list entry']
    assert set(listed) == set(documented) and set(listed['counts']) == set(documented['counts'])
    manifest = json.load(open(local_path(listed['manifestFileId'])))
    files = {entry['name']: entry for entry in manifest['files']}
    assert sorted(files) == ['coco.json', 'geojson.zip', 'masks/0000 CMU-1-Small-Region.mask.tiff',
                             'superpixels.parquet']
    for entry in files.values():
        with open(local_path(entry['fileId']), 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest() == entry['sha256']
    effective, raters = database_view(project, slide)
    labeled = sorted(effective)
    names = {str(c['_id']): c['name'] for c in Category().list(project)}
    assert manifest['version'] == 1 and manifest['createdBy']['login'] == 'labeler'
    assert manifest['project']['epoch'] == 1 and manifest['project']['settings'] == project['settings']
    assert manifest['counts']['labels'] == Label().collection.count_documents({}) == 80
    assert manifest['counts']['labeledSuperpixels'] == len(labeled)
    assert manifest['counts']['verdicts'] == {'agree': 1, 'correct': 1, 'flag': 1}
    assert manifest['splits']['slides'] == {str(slide['itemId']): manifest['slides'][0]['split']}
    assert manifest['agreement']['pairs'][0]['items'] == 10  # superpixels 30-39 have both raters

    # GeoJSON: one feature per labeled superpixel, right category and raters, outline = the superpixel's pixels
    labels, _ = read_label_image(local_path(result_label_file(slide)))
    with zipfile.ZipFile(local_path(files['geojson.zip']['fileId'])) as archive:
        [name] = archive.namelist()
        collection = json.loads(archive.read(name))
    assert collection['type'] == 'FeatureCollection' and collection['properties']['itemId'] == str(slide['itemId'])
    features = {f['properties']['superpixel']: f for f in collection['features']}
    assert sorted(features) == labeled
    for superpixel, feature in features.items():
        entry = effective[superpixel]
        assert feature['properties']['categoryId'] == (str(entry['categoryId']) if entry['categoryId'] else None)
        assert feature['properties']['rule'] == entry['rule']
        assert {(r['user_id'], r['category_id']) for r in feature['properties']['raters']} == \
            raters.get(superpixel, set())
        assert np.array_equal(rasterize(feature['geometry'], labels.shape), labels == superpixel)
    assert features[31]['properties']['category'] == 'Fat'  # adjudicated by the verdict
    assert features[5]['properties']['flagged'] and features[100]['properties']['raters'] == []

    # masks: every pixel holds its superpixel's effective category code (0: none)
    codes = {str(c): int(v) for v, c in manifest['maskCodes'].items() if c}
    lookup = np.zeros(result.count + 1, dtype=np.uint8)
    for superpixel, entry in effective.items():
        if entry['categoryId'] is not None:
            lookup[superpixel] = codes[names[str(entry['categoryId'])]]
    with tifffile.TiffFile(local_path(files['masks/0000 CMU-1-Small-Region.mask.tiff']['fileId'])) as tif:
        mask = tif.pages[0].asarray()
        assert len(tif.pages) >= 3 and tif.pages[0].is_tiled
    assert np.array_equal(mask, lookup[labels])
    assert set(np.unique(mask)) == {0, 1, 2, 3}

    # COCO: loads in pycocotools; each annotation rasterizes onto exactly its superpixel
    coco = COCO(local_path(files['coco.json']['fileId']))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == ['Tumor', 'Stroma', 'Fat']
    annotations = coco.loadAnns(coco.getAnnIds())
    assert len(annotations) == sum(1 for e in effective.values() if e['categoryId'] is not None)
    for annotation in annotations:
        truth = labels == annotation['superpixel']
        assert np.array_equal(coco.annToMask(annotation).astype(bool), truth)
        assert coco.loadCats(annotation['category_id'])[0]['name'] == names[
            str(effective[annotation['superpixel']]['categoryId'])]
        assert annotation['area'] == truth.sum()

    # Parquet: one row per superpixel, equal to the database
    table = pq.read_table(local_path(files['superpixels.parquet']['fileId'])).to_pylist()
    assert [row['superpixel'] for row in table] == list(range(result.count))
    centroids, bboxes = SuperpixelGeometry().geometry(slide)
    for row in table:
        superpixel = row['superpixel']
        entry = effective.get(superpixel)
        assert row['label_id'] == (str(entry['categoryId']) if entry and entry['categoryId'] else None)
        assert row['label_rule'] == (entry['rule'] if entry else None)
        assert {(r['user_id'], r['category_id']) for r in row['rater_labels']} == raters.get(superpixel, set())
        assert [row['bbox_x0'], row['bbox_y0'], row['bbox_x1'], row['bbox_y1']] == bboxes[superpixel].tolist()
        assert row['certainty'] == pytest.approx(float(study['arrays']['certainty'][superpixel]))
        assert row['predicted_id'] == study['ids'][int(study['arrays']['predicted'][superpixel])]
        assert np.array_equal(np.array(row['embedding'], dtype=np.float32), study['embeddings'][superpixel])
        assert row['split'] == manifest['slides'][0]['split']
    assert [r['verdict'] for r in table[31]['reviews']] == ['correct']


def result_label_file(slide):
    from girder.models.item import Item

    return Item().load(slide['segmentation']['labelItemId'], force=True)['largeImage']['fileId']


@pytest.mark.plugin('histomics_label')
def test_exports_are_versioned_and_masks_follow_the_magnification(server, admin, study):
    from girder_jobs.constants import JobStatus

    from histomics_label.core.label_image import read_label_image
    from histomics_label.models.review import slide_effective_labels

    project, slide = study['project'], study['slide']
    for expected in (1, 2):
        job = export(server, admin, project, formats=['masks'], magnification=10)
        assert job['status'] == JobStatus.SUCCESS, job['log']
        assert job['title'].startswith('Export v%d' % expected)
    listed = server.request('/histomics_label/project/%s/export' % project['_id'], user=admin).json
    assert [e['version'] for e in listed] == [2, 1] and listed[0]['formats'] == ['masks']
    manifest = json.load(open(local_path(listed[0]['manifestFileId'])))
    [entry] = manifest['files']
    labels, _ = read_label_image(local_path(result_label_file(slide)))
    rows = np.minimum(np.arange(1484) * 2 + 1, labels.shape[0] - 1)  # the label pixel under each centre
    cols = np.minimum(np.arange(1110) * 2 + 1, labels.shape[1] - 1)
    lookup = np.zeros(study['result'].count + 1, dtype=np.uint8)
    codes = {name: int(code) for code, name in manifest['maskCodes'].items() if name}
    names = {str(c['id']): c['name'] for c in manifest['categories']}
    for superpixel, effective in slide_effective_labels(project, slide['itemId']).items():
        if effective['categoryId'] is not None:
            lookup[superpixel] = codes[names[str(effective['categoryId'])]]
    mask = tifffile.imread(local_path(entry['fileId']))
    assert mask.shape == (1484, 1110) and manifest['slides'][0]['mask']['basePixelsPerPixel'] == 2
    assert np.array_equal(mask, lookup[labels[np.ix_(rows, cols)]])


@pytest.mark.plugin('histomics_label')
def test_a_failed_export_keeps_every_label_and_leaves_no_export(server, admin, study, monkeypatch):
    from girder.models.folder import Folder
    from girder_jobs.constants import JobStatus

    from histomics_label.models.label import Label, LabelHistory
    from histomics_label.models.review import Review
    from histomics_label.services import export_run as service

    def broken(*args, **kwargs):
        raise OSError('No space left on device')

    monkeypatch.setattr(service, 'write_mask_tiff', broken)
    before = [sorted(model().collection.find({}), key=lambda d: str(d['_id'])) for model in (Label, LabelHistory,
                                                                                             Review)]
    job = export(server, admin, study['project'])
    assert job['status'] == JobStatus.ERROR
    assert 'ExportError: No space left on device' in ''.join(job['log'])
    after = [sorted(model().collection.find({}), key=lambda d: str(d['_id'])) for model in (Label, LabelHistory,
                                                                                            Review)]
    assert after == before
    assert Folder().findOne({'name': 'v0001'}) is None
    assert server.request('/histomics_label/project/%s/export' % study['project']['_id'], user=admin).json == []


def test_splits_are_deterministic_and_keep_patients_together():
    from histomics_label.core.export.splits import assign_splits, split_counts
    from histomics_label.services.export_data import patient_of, plan_splits

    units = ['s%02d' % i for i in range(20)]
    first = assign_splits(units, (0.7, 0.15, 0.15), seed=4)
    assert first == assign_splits(list(reversed(units)), (0.7, 0.15, 0.15), seed=4)
    assert sorted(first.values()).count('train') == 14 and list(first.values()).count('test') == 3
    assert first != assign_splits(units, (0.7, 0.15, 0.15), seed=5)
    assert split_counts(10, (0.7, 0.15, 0.15)).tolist() == [7, 2, 1]
    assert split_counts(3, (1, 0, 0)).tolist() == [3, 0, 0]
    with pytest.raises(ValueError):
        split_counts(3, (0.5, 0.6, 0))
    items = {i: {'_id': i, 'meta': {'patientId': 'P%d' % (i // 3)} if i < 9 else {'caseId': 'C1'} if i < 11 else {}}
             for i in range(14)}
    assert [patient_of(items[i]) for i in (0, 8, 9, 13)] == ['P0', 'P2', 'C1', '13']
    slides = [{'itemId': i} for i in items]
    plan = plan_splits(slides, items, 'patient', (0.5, 0.25, 0.25), seed=1)
    by_patient = {}
    for patient, split in plan.values():
        by_patient.setdefault(patient, set()).add(split)
    assert all(len(splits) == 1 for splits in by_patient.values()) and len(by_patient) == 7
    assert plan == plan_splits(slides, items, 'patient', (0.5, 0.25, 0.25), seed=1)


BAD_EXPORTS = [  # parameters, words of the 400 message
    ({'formats': '["pdf"]'}, "formats[0]: 'pdf' is not one of"),
    ({'formats': '[]'}, 'formats: [] should be non-empty'),
    ({'formats': '["coco", "coco"]'}, 'has non-unique elements'),
    ({'formats': '"coco"'}, "formats: 'coco' is not of type 'array'"),
    ({'magnification': 0}, 'magnification must be in (0, 20]'),
    ({'magnification': 40}, 'magnification must be in (0, 20]'),
    ({'magnification': 'high'}, 'numeric parameter magnification'),
    ({'splitRatios': '[0.5, 0.5]'}, 'splitRatios: [0.5, 0.5] is too short'),
    ({'splitRatios': '[0.5, 0.3, 0.3]'}, 'summing to 1'),
    ({'splitRatios': '[-0.5, 1, 0.5]'}, 'splitRatios[0]: -0.5 is less than the minimum of 0'),
    ({'splitLevel': 'case'}, 'Invalid value for splitLevel'),
    ({'seed': -1}, 'seed must be at least 0'),
    ({'includeEmbeddings': 'maybe'}, "includeEmbeddings must be true or false, got 'maybe'"),
    ({'includeEmbeddings': 'true', 'formats': '["geojson"]'}, 'add parquet to formats'),
]


@pytest.mark.plugin('histomics_label')
def test_a_bad_export_request_is_a_400_that_starts_nothing(server, admin, project, segmented):
    from girder.models.folder import Folder
    from girder_jobs.models.job import Job

    from histomics_label.models.project import Project

    def snapshot():
        return [list(model().find({})) for model in (Job, Folder, Project)]

    before = snapshot()
    for params, message in BAD_EXPORTS:
        resp = server.request('/histomics_label/project/%s/export' % project['_id'], method='POST', user=admin,
                              params=params)
        assertStatus(resp, 400)
        assert message in resp.json['message'], (params, resp.json['message'])
    assert snapshot() == before
    Project().update_settings(project, {'featureKind': 'patches', 'modelKind': 'cnn'})
    resp = server.request('/histomics_label/project/%s/export' % project['_id'], method='POST', user=admin,
                          params={'includeEmbeddings': 'true'})
    assertStatus(resp, 400)
    assert 'image patches, not embeddings' in resp.json['message']


@pytest.mark.plugin('histomics_label')
def test_a_canceled_export_stops_and_removes_its_folder(server, admin, study, monkeypatch):
    from girder.models.folder import Folder
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job

    from histomics_label.services import export_run as service

    original = service.write_mask_tiff

    def cancel_then_write(*args, **kwargs):  # the user cancels while the mask is written
        [job] = Job().find({'type': 'histomics_label_export'})
        Job().cancelJob(job)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, 'write_mask_tiff', cancel_then_write)
    job = export(server, admin, study['project'], formats=['masks', 'parquet'])
    assert job['status'] == JobStatus.CANCELED
    deadline = time.time() + 60  # the job notices the cancel at its next progress write
    while 'Export canceled' not in ''.join(job['log']) and time.time() < deadline:
        time.sleep(0.1)
        job = Job().load(job['_id'], force=True, includeLog=True)
    assert 'Export canceled; its partial folder was removed.' in ''.join(job['log'])
    assert job['status'] == JobStatus.CANCELED
    assert Folder().findOne({'name': 'v0001'}) is None
    assert server.request('/histomics_label/project/%s/export' % study['project']['_id'], user=admin).json == []


@pytest.mark.plugin('histomics_label')
def test_a_new_project_of_the_folder_exports_beside_a_deleted_ones_exports(server, admin, study):
    """Version numbers are per project: after a project is deleted (its exports stay), a new project of the same
    folder exports to ``v0001 <its id>`` instead of failing on the taken name."""
    from girder.models.folder import Folder
    from girder_jobs.constants import JobStatus

    from histomics_label.models.project import Project

    first = study['project']
    assert export(server, admin, first, formats=['coco'])['status'] == JobStatus.SUCCESS
    assertStatusOk(server.request('/histomics_label/project/%s' % first['_id'], method='DELETE', user=admin,
                                  params={'deleteLabels': 'true'}))
    second = Project().create(Folder().load(first['folderId'], force=True), admin, 'Second look')
    for _ in range(2):
        job = export(server, admin, second, formats=['coco'])
        assert job['status'] == JobStatus.SUCCESS, job['log']
    listed = server.request('/histomics_label/project/%s/export' % second['_id'], user=admin).json
    assert [entry['version'] for entry in listed] == [2, 1]
    folders = [Folder().load(entry['folderId'], force=True) for entry in listed]
    assert [folder['name'] for folder in folders] == ['v0002', 'v0001 %s' % second['_id']]
    assert Folder().findOne({'parentId': folders[0]['parentId'], 'name': 'v0001'})  # the deleted project's stays


def read_export(server, user, project):
    """The newest export of ``project``: its manifest and {file name: local path}."""
    newest = server.request('/histomics_label/project/%s/export' % project['_id'], user=user).json[0]
    manifest = json.load(open(local_path(newest['manifestFileId'])))
    return newest, manifest, {entry['name']: local_path(entry['fileId']) for entry in manifest['files']}


def pixels_digest(array):
    return array.shape, str(array.dtype), hashlib.sha256(array.tobytes()).hexdigest()


def slide_outputs(manifest, paths):
    """What an export says of its present slides, free of what differs between versions (dates, ids)."""
    from pycocotools.coco import COCO

    with zipfile.ZipFile(paths['geojson.zip']) as archive:
        features = {name: json.loads(archive.read(name))['features'] for name in archive.namelist()}
    coco = COCO(paths['coco.json']).dataset
    return {'slides': manifest['slides'], 'splits': manifest['splits'], 'geojson': features,
            'coco': (coco['images'], coco['categories'], coco['annotations']),
            'masks': {name: pixels_digest(tifffile.imread(path)) for name, path in paths.items()
                      if name.startswith('masks/')},
            'table': pq.read_table(paths['superpixels.parquet']).to_pylist(),
            'counts': {key: value for key, value in manifest['counts'].items() if key != 'labelsOnRemovedSlides'}}


@pytest.mark.plugin('histomics_label')
def test_a_removed_slides_labels_stay_in_the_export(server, admin, labeler, study):
    """A project of two labeled slides loses one slide item: the next export carries that slide's labels and
    verdicts in removed_slides.parquet (values, raters, times, centroids as labeled), whatever the formats, and
    says in the manifest that the geometric formats leave it out; the remaining slide's output is unchanged."""
    from girder.models.folder import Folder
    from girder.models.item import Item
    from girder_jobs.constants import JobStatus

    from histomics_label.models.category import Category
    from histomics_label.models.label import Label
    from histomics_label.models.project import Project
    from histomics_label.models.review import Review
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry
    from test_handlers import add_slide, segment

    project, ids = study['project'], study['ids']
    assert export(server, admin, project, seed=3)['status'] == JobStatus.SUCCESS
    _, manifest, paths = read_export(server, admin, project)
    before = slide_outputs(manifest, paths)
    assert 'removed_slides.parquet' not in paths and manifest['removedSlides'] == []

    item = add_slide(admin, project['folderId'], 'second.svs')
    ProjectSlide().sync(project, Folder().load(project['folderId'], force=True))
    second = segment(ProjectSlide().for_item(project, item['_id']))
    assert second['index'] == 1
    categories = Category().list(project)
    centroids = SuperpixelGeometry().geometry(second)[0]
    Label().write(project, second, admin, [{'superpixel': s, 'categoryId': ids[0]} for s in range(6)],
                  categories, centroids)
    Label().write(project, second, labeler, [{'superpixel': 0, 'categoryId': ids[1]},
                                             {'superpixel': 1, 'categoryId': ids[1]},
                                             {'superpixel': 2, 'categoryId': ids[0]}], categories, centroids)
    Review().write(project, second, admin, [{'superpixel': 1, 'verdict': 'correct', 'categoryId': ids[2]},
                                            {'superpixel': 7, 'verdict': 'correct', 'categoryId': ids[2],
                                             'comment': 'fat cells'}], categories)
    Item().remove(Item().load(item['_id'], force=True))
    project = Project().load(project['_id'], force=True)
    [removal] = project['removedSlides']

    for expected, formats in ((2, ['geojson', 'masks', 'coco', 'parquet']), (3, ['coco'])):
        job = export(server, labeler, project, seed=3, formats=formats)
        assert job['status'] == JobStatus.SUCCESS, job['log']
        listed, manifest, paths = read_export(server, labeler, project)
        assert listed['version'] == expected and listed['counts']['labelsOnRemovedSlides'] == 9
        assert 'removed_slides.parquet' in paths  # whatever the formats: only a table can hold them
        assert manifest['removedSlides'] == [{
            'itemId': str(item['_id']), 'name': 'second.svs', 'index': 1,
            'removed': removal['removed'].replace(tzinfo=datetime.timezone.utc).isoformat(), 'labels': 9,
            'labeledSuperpixels': 7, 'effectiveLabels': 6, 'reviews': 2, 'file': 'removed_slides.parquet'}]
        assert 'GeoJSON, COCO, the masks and superpixels.parquet cover only' in manifest['removedSlidesNote']
        assert manifest['counts']['slides'] == 1 and [s['name'] for s in manifest['slides']] == [
            'CMU-1-Small-Region.svs']
        if expected == 2:  # the remaining slide's files and counts are those of the export before the removal
            assert slide_outputs(manifest, paths) == before

    table = pq.read_table(paths['removed_slides.parquet'])
    assert json.loads(table.schema.metadata[b'histomics_label.export'])['version'] == 3
    rows = {row['superpixel']: row for row in table.to_pylist()}
    assert sorted(rows) == [0, 1, 2, 3, 4, 5, 7]
    assert {sp: (row['label'], row['label_rule'], row['raters']) for sp, row in rows.items()} == {
        0: (None, 'disputed', 2), 1: ('Fat', 'adjudicated', 2), 2: ('Tumor', 'consensus', 2),
        3: ('Tumor', 'single', 1), 4: ('Tumor', 'single', 1), 5: ('Tumor', 'single', 1), 7: ('Fat', 'adjudicated', 0)}
    assert rows[1]['label_id'] == ids[2] and rows[0]['agreement'] == 0.5 and rows[2]['agreement'] == 1
    for superpixel, row in rows.items():
        assert (row['slide_index'], row['item_id'], row['slide_name']) == (1, str(item['_id']), 'second.svs')
        assert row['slide_removed'].replace(tzinfo=None) == removal['removed'].replace(tzinfo=None)
        labels = list(Label().find({'itemId': item['_id'], 'superpixel': superpixel}))
        assert sorted((r['user_login'], r['category'], r['source'], r['updated'].replace(tzinfo=None))
                      for r in row['rater_labels']) == sorted(
            (('admin' if label['userId'] == admin['_id'] else 'labeler'), Category().load(
                label['categoryId'], force=True)['name'], 'paint', label['updated'].replace(tzinfo=None))
            for label in labels)
        position = [row['centroid_x'], row['centroid_y']]
        assert position == (centroids[superpixel].tolist() if labels else [None, None])
    assert [(r['reviewer_login'], r['verdict'], r['category'], r['comment']) for r in rows[7]['reviews']] == [
        ('admin', 'correct', 'Fat', 'fat cells')]
    assert 'bbox_x0' not in table.column_names and 'predicted' not in table.column_names
    assert Label().find({'itemId': item['_id']}).count() == 9  # exports never write labels
