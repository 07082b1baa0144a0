"""Opening the Guided Labeling view of a large project: 100 slides x 10,000 superpixels (issue 10 item 7).

Starts ``devops/serve.py`` (embedded database, its own Redis; no Celery worker: nothing here needs a job),
copies the demo slide 100 times into a new folder (Girder copyItem: 100 large images sharing one file), writes
one synthetic 100 x 100-cell pixelmap label image and its superpixel data (core/label_image.py,
core/superpixel_set.py layout), and ingests both for every slide through the bring-your-own route
``POST project/{id}/slide/{itemId}/superpixels``. Three categories and some labels on ten slides follow. Then
chromium (playwright-core) opens ``/histomics#?image=<first slide>&hlProject=<id>`` several times and measures,
with the page's own clock, the time from navigation to the first usable screen: the labeling panel with its
categories, the slide navigator with the slide's counts, and the first superpixel-overlay tile requested.
Prints p50/p95, when the panel first showed (the project known, its parts still loading), the load average,
and where the time goes (the REST calls' durations from resource timing).

    .venv/bin/python benchmarks/bench_open_view.py [--runs 7] [--port 8111] [--slides 100] [--grid 100]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import girder_client
import numpy as np
from girder_stack import REPO, demo

sys.path.insert(0, REPO)
from histomics_label.core.label_image import write_label_tiff  # noqa: E402

BROWSER = r"""
import {chromium} from '%(playwright)s';
const [baseUrl, token, url, labelItemId, runs] = process.argv.slice(2);
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
    '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: FLAGS});
const context = await browser.newContext({viewport: {width: 1400, height: 900}});
await context.addInitScript((t) => window.localStorage.setItem('girderToken', t), token);
await context.addCookies([{name: 'girderToken', value: token, url: baseUrl}]);
await context.addInitScript(() => {  // main-thread work: long tasks (> 50 ms) from the start of the page
    window.__longTasks = [];
    new PerformanceObserver((list) => list.getEntries().forEach((e) => window.__longTasks.push([e.startTime, e.duration])))
        .observe({type: 'longtask', buffered: true});
    const panelShown = () => {  // the first frame with the panel's tabs (the project known, before its parts)
        if (document.querySelector('.h-hl-labeling-panel .h-hl-tab-body')) {
            window.__panelAt = performance.now();
        } else {
            requestAnimationFrame(panelShown);
        }
    };
    requestAnimationFrame(panelShown);
});
const results = [];
for (let run = 0; run < Number(runs); run += 1) {
    const page = await context.newPage();
    await page.goto(`${baseUrl}/histomics#?image=${url}`);
    const ready = await page.waitForFunction((labelItemId) => {
        const categories = document.querySelectorAll('.h-hl-labeling-panel .h-hl-category').length;
        const navigator = document.querySelector('.h-hl-slides .h-hl-slide-counts');
        const tile = performance.getEntriesByType('resource').find((e) => e.name.includes(`/item/${labelItemId}/tiles/`));
        return categories >= 3 && navigator && navigator.innerText.trim() && tile ? {
            dom: performance.now(), tile: tile.startTime, categories} : null;
    }, labelItemId, {polling: 'raf', timeout: 120000});
    const value = await ready.jsonValue();
    const api = await page.evaluate(() => performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/api/v1/')).map((e) => ({
            name: e.name.replace(/^.*\/api\/v1\//, '').replace(/[0-9a-f]{24}/g, '{id}').replace(/\?.*$/, ''),
            start: Math.round(e.startTime), duration: Math.round(e.duration)})));
    const nav = await page.evaluate(() => {
        const n = performance.getEntriesByType('navigation')[0];
        return {domContentLoaded: Math.round(n.domContentLoadedEventEnd), load: Math.round(n.loadEventEnd)};
    });
    const ms = Math.max(value.dom, value.tile);
    const panel = await page.evaluate(() => window.__panelAt);
    const longTasks = await page.evaluate((end) => window.__longTasks.filter(([start]) => start < end)
        .reduce((sum, [, duration]) => sum + duration, 0), ms);
    results.push({ms, panel, dom: value.dom, tile: value.tile, nav, api, longTasks});
    await page.close();
}
console.log(JSON.stringify(results));
await browser.close();
"""


def synthetic_superpixels(work, width, height, grid):
    """A grid x grid pixelmap label image of the slide's size and its superpixel data (.npz); returns paths."""
    xs = np.minimum(np.arange(width) * grid // width, grid - 1)
    ys = np.minimum(np.arange(height) * grid // height, grid - 1)
    labels = (ys[:, None] * grid + xs[None, :]).astype(np.int32)
    tiff = os.path.join(work, 'grid_labels.tiff')
    write_label_tiff(tiff, labels)
    edges_x = np.searchsorted(xs, np.arange(grid + 1))
    edges_y = np.searchsorted(ys, np.arange(grid + 1))
    col, row = np.meshgrid(np.arange(grid), np.arange(grid))
    col, row = col.ravel(), row.ravel()
    bboxes = np.stack([edges_x[col], edges_y[row], edges_x[col + 1], edges_y[row + 1]], axis=1).astype(np.float32)
    npz = os.path.join(work, 'grid_superpixels.npz')
    np.savez_compressed(
        npz, centroids=((bboxes[:, :2] + bboxes[:, 2:]) / 2).astype(np.float32), bboxes=bboxes,
        areas=((bboxes[:, 2] - bboxes[:, 0]) * (bboxes[:, 3] - bboxes[:, 1])).astype(np.float32),
        scale=np.float64(1.0), magnification=np.float64(20.0), size=np.array([width, height]))
    return tiff, npz


def seed(client, work, slides, grid):
    """The project of `slides` copies of the demo slide with grid**2 superpixels each; returns ids."""
    collection = client.get('collection')[0]
    demo = client.get('folder', parameters={'parentType': 'collection', 'parentId': collection['_id']})[0]
    slide = client.get('item', parameters={'folderId': demo['_id']})[0]
    folder = client.createFolder(collection['_id'], 'Bench %d slides' % slides, parentType='collection')
    data = client.createFolder(collection['_id'], 'Bench superpixels', parentType='collection')
    started = time.time()
    items = [client.post('item/%s/copy' % slide['_id'], parameters={
        'folderId': folder['_id'], 'name': 'slide-%03d.svs' % i}) for i in range(slides)]
    assert all('largeImage' in item for item in items), 'copied items are not large images'
    tiles = client.get('item/%s/tiles' % items[0]['_id'])
    tiff, npz = synthetic_superpixels(work, tiles['sizeX'], tiles['sizeY'], grid)
    label_item = client.createItem(data['_id'], 'grid_labels.tiff')
    client.uploadFileToItem(label_item['_id'], tiff)
    if 'largeImage' not in client.getItem(label_item['_id']):  # large_image may have made it one on upload
        client.post('item/%s/tiles' % label_item['_id'])
    data_item = client.createItem(data['_id'], 'grid_superpixels.npz')
    data_file = client.uploadFileToItem(data_item['_id'], npz)
    project = client.post('histomics_label/project', parameters={'folderId': folder['_id'], 'name': 'Bench'})
    path = 'histomics_label/project/%s' % project['_id']
    outputs = json.dumps({'outputSuperpixelImage': {'itemId': label_item['_id']},
                          'outputSuperpixelData': {'fileId': data_file['_id']}})
    for item in items:
        client.post('%s/slide/%s/superpixels' % (path, item['_id']), parameters={'outputs': outputs})
    categories = [client.post(path + '/category', parameters={'name': name})['_id']
                  for name in ('Tumor', 'Stroma', 'Necrosis')]
    rng = np.random.default_rng(0)
    for item in items[:10]:
        chosen = rng.choice(grid * grid, 200, replace=False)
        client.put(path + '/label', json={'itemId': item['_id'], 'labels': [
            {'superpixel': int(n), 'categoryId': categories[int(n) % 3]} for n in chosen]})
    totals = client.get(path + '/status')['totals']
    print('seeded in %.0f s: %s' % (time.time() - started, json.dumps(totals)))
    assert totals['slides'] == slides and totals['superpixels'] == slides * grid * grid, totals
    return project['_id'], items[0]['_id'], label_item['_id']


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(np.ceil(p / 100 * len(ordered))) - 1))]


def report(results):
    times = [r['ms'] for r in results]
    print('load average before the runs: %s' % ' '.join('%.2f' % v for v in os.getloadavg()))
    print('first usable screen, %d runs (ms): %s' % (len(times), ' '.join('%.0f' % t for t in times)))
    print('p50 %.0f ms, p95 %.0f ms (first run, cold browser cache: %.0f ms)' % (
        statistics.median(times), percentile(times, 95), times[0]))
    median = sorted(results, key=lambda r: r['ms'])[len(results) // 2]
    print('panel shown (project known, parts still loading): p50 %.0f ms' % statistics.median(r['panel'] for r in results))
    print('median run: DOMContentLoaded %(domContentLoaded)d ms, load %(load)d ms' % median['nav'],
          '; panel shown %.0f ms, panel+navigator %.0f ms, first overlay tile requested %.0f ms' % (
              median['panel'], median['dom'], median['tile']))
    print('main thread busy in long tasks (> 50 ms) before the usable screen: %.0f ms (median run)' % median['longTasks'])
    print('REST calls of the median run (start ms, duration ms):')
    for call in sorted(median['api'], key=lambda c: c['start']):
        if call['start'] <= median['ms'] and 'tiles/zxy' not in call['name']:
            print('  %6d %6d  %s' % (call['start'], call['duration'], call['name']))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=7)
    parser.add_argument('--port', type=int, default=8111)
    parser.add_argument('--slides', type=int, default=100)
    parser.add_argument('--grid', type=int, default=100, help='superpixels per slide = grid ** 2')
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='bench_open_view_')
    try:
        with demo(args.port, work, '--no-worker'):
            measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args, work):
    """Seed the project on the running demo, then time opening the view in the browser and report."""
    base = 'http://127.0.0.1:%d' % args.port
    client = girder_client.GirderClient(apiUrl=base + '/api/v1')
    client.authenticate('admin', 'histomics')
    project_id, item_id, label_item_id = seed(client, work, args.slides, args.grid)
    script = os.path.join(work, 'open_view.mjs')
    with open(script, 'w') as handle:
        handle.write(BROWSER % {'playwright': os.path.join(
            REPO, 'tests', 'browser', 'node_modules', 'playwright-core', 'index.mjs')})
    out = subprocess.run(
        ['node', script, base, client.token, '%s&hlProject=%s' % (item_id, project_id), label_item_id,
         str(args.runs)], capture_output=True, text=True, timeout=1800)
    if out.returncode:
        raise SystemExit(out.stdout + out.stderr)
    report(json.loads(out.stdout.strip().splitlines()[-1]))


if __name__ == '__main__':
    main()
