"""The CLIs as plain subprocesses on the CMU slide (the way a DSA Docker image runs them), end to end:
segmentation -> features -> training, and bring-your-own segmentations."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import SLIDE
from histomics_label.jobs.cli_catalog import cli_names, cli_script


def run(name, *args):
    result = subprocess.run([sys.executable, cli_script(name)] + [str(a) for a in args], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert '<filter-progress>1.0000</filter-progress>' in result.stdout
    return result.stdout


@pytest.fixture(scope='module')
def segmented(tmp_path_factory):
    out = tmp_path_factory.mktemp('cli')
    paths = {k: str(out / name) for k, name in (('tiff', 'sp.tiff'), ('anot', 'sp.anot'), ('npz', 'sp.npz'))}
    run('SuperpixelSegmentation', '--image', SLIDE, '--superpixel-image', paths['tiff'], '--annotation', paths['anot'],
        '--superpixel-data', paths['npz'], '--radius', 120)
    return out, paths


def test_every_cli_answers_xml():
    for name in cli_names():
        out = subprocess.run([sys.executable, cli_script(name), '--xml'], capture_output=True, text=True)
        assert out.returncode == 0 and '<executable>' in out.stdout, name


def test_tissue_detection_writes_polygons_in_slide_pixels(tmp_path):
    run('TissueDetection', '--image', SLIDE, '--annotation', tmp_path / 'tissue.anot', '--analysis-size', 1024)
    annotation = json.load(open(tmp_path / 'tissue.anot'))
    assert annotation['name'] == 'Tissue' and annotation['elements']
    xs = [p[0] for e in annotation['elements'] for p in e['points']]
    assert 0 <= min(xs) and max(xs) <= 2220 and max(xs) - min(xs) > 1000


def test_segmentation_outputs(segmented):
    import large_image

    _, paths = segmented
    data = np.load(paths['npz'])
    count = len(data['centroids'])
    assert 100 < count < 500
    annotation = json.load(open(paths['anot']))
    element = annotation['elements'][0]
    assert element['girderId'] == 'outputSuperpixelImage' and len(element['values']) == count
    assert large_image.open(paths['tiff']).getMetadata()['sizeX'] == 2220


def test_features_then_training(segmented):
    out, paths = segmented
    features = out / 'features'
    features.mkdir()
    run('SuperpixelFeatures', '--image', SLIDE, '--superpixel-data', paths['npz'], '--features', features / 'slide0.h5',
        '--feature-kind', 'patches',
        '--patch-size', 32, '--label-image', paths['tiff'])
    count = len(np.load(paths['npz'])['centroids'])
    manifest = out / 'manifest.json'
    manifest.write_text(json.dumps({
        'categories': ['tumor', 'stroma'], 'excluded': [], 'slides': [{'index': 0, 'features': 'slide0.h5'}],
        'labels': [[0, i, i % 2] for i in range(20)], 'modelKind': 'cnn', 'strategy': 'margin', 'epoch': 1}))
    run('TrainAndPredict', '--manifest', manifest, '--features-directory', features, '--predictions',
        out / 'predictions.npz', '--model', out / 'model.npz', '--mc-samples', 4)
    predictions = np.load(out / 'predictions.npz')
    assert predictions['probabilities'].shape == (count, 2)
    assert sorted(predictions['ranking'].tolist()) == list(range(count))
    assert list(predictions['category_ids']) == ['tumor', 'stroma']


def test_bring_your_own_segmentation(segmented, tmp_path):
    polygons = {'type': 'FeatureCollection', 'features': [
        {'type': 'Feature', 'geometry': {'type': 'Polygon', 'coordinates': [
            [[x, y], [x + 300, y], [x + 300, y + 300], [x, y + 300], [x, y]]]}}
        for x, y in ((100, 100), (600, 100), (100, 800))]}
    source = tmp_path / 'cells.geojson'
    source.write_text(json.dumps(polygons))
    run('ImportSegmentation', SLIDE, source, tmp_path / 'a.tiff', tmp_path / 'a.anot', tmp_path / 'a.npz')
    data = np.load(tmp_path / 'a.npz')
    assert len(data['centroids']) == 3
    assert np.allclose(data['centroids'][0], [250, 250], atol=1)
    # a label image from another tool, e.g. our own segmentation's
    _, paths = segmented
    run('ImportSegmentation', SLIDE, paths['tiff'], tmp_path / 'b.tiff', tmp_path / 'b.anot',
        tmp_path / 'b.npz')
    assert len(np.load(tmp_path / 'b.npz')['centroids']) == len(np.load(paths['npz'])['centroids'])


@pytest.mark.parametrize('name, args, message', [
    ('TrainAndPredict', ['--mc-samples', '2'], 'Give --project-id (Girder mode) or --manifest'),
    ('SuperpixelSegmentation', ['--image', SLIDE], 'Give --project-id and --item-id (Girder mode) or --image, '
                                                   '--superpixel-image'),
    ('SuperpixelFeatures', [], 'Give --project-id and --item-id (Girder mode) or --image, --superpixel-data'),
    ('TissueDetection', ['--annotation', '/tmp/t.anot'], 'Give --item-id (Girder mode) or --image, --annotation'),
    ('TissueDetection', ['--item-id', 'i'], 'Girder mode needs --api-url and --girder-token with --item-id'),
    ('SuperpixelFeatures', ['--project-id', 'p', '--item-id', 'i'], 'Girder mode needs --api-url and --girder-token'),
    ('SuperpixelSegmentation', ['--project-id', 'p', '--api-url', 'http://127.0.0.1:9/api/v1', '--girder-token',
                                't'], 'Girder mode needs --item-id'),
])
def test_a_cli_without_a_complete_mode_says_what_it_needs(name, args, message):
    result = subprocess.run([sys.executable, cli_script(name)] + args, capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr, result.stderr
