"""Issue 11 items 2 and 4 in the browser: the Guided Labeling panel's Model tab.

Starts the demo (devops/serve.py: embedded database, its own Redis, a Celery worker and the resident trainer),
makes a project of the demo slide with three categories, and trains three real epochs on the resident trainer
on growing labels (the later ones written as guided labels at the previous epoch, which the guardrails count).
Each epoch's quality is measured by the trainer. Then tests/browser/model_quality.mjs opens the Model tab as
admin, reads the learning curve's Chart.js data and the numbers shown, saves test-artifacts/model-quality.png,
then retrains from the tab and reads the chart again once the new epoch's point has arrived; this test compares
all of it with GET quality and GET status.
"""
import io
import json
import math
import os
import subprocess
import time

import girder_client
import numpy as np
import PIL.Image

from conftest import ARTIFACTS
from test_demo_browser import BROWSER_DIR, demo  # noqa: F401 (the demo server fixture)
from test_guided_labeling_browser import segmented_project

# name, colour and the brightness percentiles (among tissue superpixels) the category's superpixels come from
CATEGORIES = (('Epithelium', '#1f77b4', 0, 20), ('Stroma', '#ff7f0e', 40, 60), ('Loose tissue', '#2ca02c', 80, 100))
PER_EPOCH = 8  # new labels per category and epoch


def appearance_labels(client, slide, state, categories):
    """Label batches per category by how each superpixel looks: the mean brightness of its bounding box on a
    1/4 scale image of the slide. Among tissue superpixels (not glass), the darkest fifth (nuclei-rich) are
    Epithelium, the middle fifth Stroma, the lightest fifth Loose tissue; each category's labels are spread
    evenly over its range, and an epoch's batch takes every third of them, so every epoch adds alike."""
    superpixels = client.get('annotation/%s' % state['segmentation']['annotationIds'][0])
    bbox = np.array(superpixels['annotation']['elements'][0]['user']['bbox']).reshape(-1, 4)
    size = client.get('item/%s/tiles' % slide['_id'])['sizeX']
    region = client.get('item/%s/tiles/region' % slide['_id'], parameters={'width': size // 4, 'encoding': 'PNG'},
                        jsonResp=False)
    grey = np.asarray(PIL.Image.open(io.BytesIO(region.content)).convert('L'), dtype=float)
    box = np.clip(np.round(bbox * grey.shape[1] / size).astype(int), 0, None)
    patches = (grey[y0:y1 + 1, x0:x1 + 1] for x0, y0, x1, y1 in box)
    brightness = np.array([patch.mean() if patch.size else 255 for patch in patches])  # outside: as glass
    tissue = np.flatnonzero(brightness < 220)
    tissue = tissue[np.argsort(brightness[tissue])]
    labels = {}
    for name, _, low, high in CATEGORIES:
        members = tissue[len(tissue) * low // 100:len(tissue) * high // 100]
        chosen = members[np.linspace(0, len(members) - 1, 3 * PER_EPOCH).astype(int)]
        assert len(set(chosen)) == 3 * PER_EPOCH, (name, len(members))
        labels[name] = [{'superpixel': int(i), 'categoryId': categories[name]} for k in range(3) for i in chosen[k::3]]
    return labels


def train_epoch(client, path, epoch, timeout=300):
    """Train on request, then wait for the epoch and its quality (the trainer posts it after publishing)."""
    client.post(path + '/train')
    deadline = time.time() + timeout
    while True:
        status = client.get(path + '/status')
        assert status['training'].get('status') != 'error', status['training']
        quality = client.get(path + '/quality')
        if status['epoch'] == epoch and quality['current'] and quality['current']['epoch'] == epoch:
            return quality
        assert time.time() < deadline, (status, quality['current'])
        time.sleep(0.5)


def seed(client, folder, slide):
    """Three epochs on 24, 48 and 72 labels; returns the project."""
    started = time.time()
    project, state = segmented_project(client, folder)
    print('segmentation and features: %.0f s' % (time.time() - started))
    path = 'histomics_label/project/%s' % project['_id']
    categories = {name: client.post(path + '/category', parameters={'name': name, 'fillColor': colour})['_id']
                  for name, colour, _, _ in CATEGORIES}
    groups = appearance_labels(client, slide, state, categories)
    for epoch in (1, 2, 3):
        batch = [label for labels in groups.values() for label in labels[(epoch - 1) * PER_EPOCH:epoch * PER_EPOCH]]
        body = {'itemId': slide['_id'], 'labels': batch}
        if epoch > 1:
            body.update(source='guided', epoch=epoch - 1)
        client.put(path + '/label', json=body)
        started = time.time()
        train_epoch(client, path, epoch)
        print('epoch %d and its quality: %.1f s' % (epoch, time.time() - started))
    return project


def test_model_tab_shows_the_learning_curve_and_guardrails(demo):  # noqa: F811
    started = time.time()
    admin = girder_client.GirderClient(apiUrl=demo['url'] + '/api/v1')
    admin.authenticate('admin', 'histomics')
    collection = admin.get('collection')[0]
    folder = admin.get('folder', parameters={'parentType': 'collection', 'parentId': collection['_id']})[0]
    slide = admin.get('item', parameters={'folderId': folder['_id']})[0]
    project = seed(admin, folder, slide)
    seeded = time.time()
    path = 'histomics_label/project/%s' % project['_id']
    quality = admin.get(path + '/quality')
    status = admin.get(path + '/status')
    assert [point['labels'] for point in quality['curve']] == [24, 48, 72]

    summary_path = os.path.join(ARTIFACTS, 'model_quality_summary.json')
    result = subprocess.run(
        ['node', 'model_quality.mjs', demo['url'], 'admin', 'histomics', project['_id'], slide['_id'], ARTIFACTS],
        cwd=BROWSER_DIR, capture_output=True, text=True, timeout=300)
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    shown = json.loads(open(summary_path).read())
    print('seeding %.0f s, browser %.0f s' % (seeded - started, time.time() - seeded))

    # the chart holds one point per epoch: labels against accuracy and macro-F1, as GET quality has them
    assert shown['chart'] == {
        'Accuracy': [[point['labels'], point['accuracy']] for point in quality['curve']],
        'Macro-F1': [[point['labels'], point['macroF1']] for point in quality['curve']]}
    current = quality['current']
    assert shown['figures'] == {
        'accuracy': '%.1f%%' % (100 * current['accuracy']), 'f1': '%.3f' % current['macroF1'],
        'evaluated': str(current['evaluated']), 'folds': str(current['folds'])}
    names = {c['_id']: c['name'] for c in admin.get(path + '/category')}
    assert shown['matrix']['columns'] == [names[c] for c in current['categoryIds']]
    assert shown['matrix']['rows'] == [names[c] for c in current['categoryIds']]
    assert shown['matrix']['cells'] == current['confusion']
    assert shown['stop'] == (quality['stop']['reason'] if quality['stop']['flat'] else None)
    assert shown['hint'] == (None if quality['stop']['flat'] else quality['stop']['reason'])
    if 'guardrails' in status:  # the server's automation-bias statistics, one row per user
        rows = status['guardrails']['users']
        assert [row['name'] for row in shown['guardrails']] == [row['name'] or row['login'] for row in rows]
        admin_row = next(row for row in rows if row['login'] == 'admin')
        assert admin_row['suggestions']['answered'] == 2 * 3 * PER_EPOCH
        percent = '%d%%' % math.floor(100 * admin_row['suggestions']['acceptedShare'] + 0.5)  # as JS rounds
        assert any(row['accepted'].startswith(percent) for row in shown['guardrails'])
    else:
        assert shown['guardrails'] is None
    # Retrain in the tab: epoch 4's point arrived in the open chart, as GET quality has it
    curve = admin.get(path + '/quality')['curve']
    assert [point['epoch'] for point in curve] == [1, 2, 3, 4]
    assert shown['afterRetrain']['Macro-F1'] == [[point['labels'], point['macroF1']] for point in curve]
    assert os.path.getsize(os.path.join(ARTIFACTS, 'model-quality.png')) > 20000
    assert shown['errors'] == [], shown['errors']
