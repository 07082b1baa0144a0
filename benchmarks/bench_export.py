#!/usr/bin/env python
"""Benchmark a project export (POST project/{id}/export's job) at study scale: time, peak memory, progress.

Builds a project of --slides slides x --superpixels-per-slide superpixels (default 100 x 10,000 = 1M) on a
synthetic --size x --size label image (wavy grid cells, so outlines are not rectangles), --raters raters (20)
and --labels labels (200,000): each slide's --overlap raters (3) label the same --candidates superpixels
(1,000), 5% of the labeled superpixels get a reviewer verdict, and one epoch of predictions covers every
superpixel (--embedding-dim > 0 also gives every slide a features file and exports the embeddings). Labels are
inserted in bulk (what ``Label.write`` stores) to keep the set-up short, and the agreement statistics that label
writes keep are then built once, so that the export's manifest reads them as it would on a live project.

Then it runs the export job with every format (GeoJSON zip, masks at --magnification, COCO, Parquet) in this
process and reports wall and CPU time (and the part spent reading labels and verdicts, chunk by chunk), the
peak resident memory above the level before the export (sampled every 20 ms), the job's progress updates
(count, longest gap) and the output sizes. Run it with --slides 10 and 100: a bounded export has about the same
memory peak at both sizes.

Runs on the embedded (mongomock) database unless --mongo-uri is given; mongomock scans a collection per query
where MongoDB uses the (projectId, itemId, superpixel) index, so the database part is slower here.
"""
import argparse
import datetime
import json
import os
import tempfile
import threading
import time

import numpy as np
from girder_stack import add_arguments, connect, database_label, report


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--slides', type=int, default=100)
    parser.add_argument('--superpixels-per-slide', type=int, default=10000)
    parser.add_argument('--size', type=int, default=4000, help='label image side in pixels')
    parser.add_argument('--raters', type=int, default=20)
    parser.add_argument('--labels', type=int, default=200000)
    parser.add_argument('--overlap', type=int, default=3)
    parser.add_argument('--candidates', type=int, default=1000)
    parser.add_argument('--categories', type=int, default=6)
    parser.add_argument('--magnification', type=float, default=10.0, help='of the masks (segmentation: 20x)')
    parser.add_argument('--embedding-dim', type=int, default=0)
    parser.add_argument('--cache-portion', type=int, default=None,
                        help="large_image's cache_python_memory_portion: its tile cache may use RAM / this "
                             '(default 32, i.e. 750 MB of 24 GB; the cache is part of the measured memory)')
    add_arguments(parser)
    return parser.parse_args()


def start_girder(args, workdir):
    """Girder's models on the database, with local jobs and a filesystem assetstore in ``workdir``."""
    from girder import events
    from girder.models.assetstore import Assetstore
    from girder_jobs import scheduleLocal

    if args.cache_portion:
        import large_image

        large_image.config.setConfig('cache_python_memory_portion', args.cache_portion)
    connect(args.mongo_uri)
    events.bind('jobs.schedule', 'jobs', scheduleLocal)  # what the jobs plugin does when Girder loads it
    Assetstore().createFilesystemAssetstore('bench', os.path.join(workdir, 'assetstore'))


def synthetic_labels(size, count):
    """A ``size x size`` label image of ``count`` wavy grid cells, with their centroids and boxes."""
    from scipy import ndimage

    side = int(np.ceil(np.sqrt(count)))
    cell = size / side
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    gx = np.clip(((x + cell * 0.2 * np.sin(y / (cell * 0.6))) / cell).astype(np.int32), 0, side - 1)
    gy = np.clip(((y + cell * 0.2 * np.sin(x / (cell * 0.7))) / cell).astype(np.int32), 0, side - 1)
    labels = gy * side + gx
    labels[labels >= count] = count - 1
    del x, y, gx, gy
    boxes = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in ndimage.find_objects(labels + 1)],
                     dtype=np.float32)
    centroids = np.array(ndimage.center_of_mass(np.ones_like(labels), labels, np.arange(count)), dtype=np.float32)
    return labels, centroids[:, ::-1].copy(), boxes


def build(args, workdir, rng):
    from girder.models.collection import Collection
    from girder.models.folder import Folder
    from girder.models.user import User
    from girder.models.upload import Upload
    from girder_large_image.models.image_item import ImageItem

    from histomics_label.core.features.store import write_features
    from histomics_label.core.label_image import write_label_tiff
    from histomics_label.models.agreement import Agreement
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label, document_key
    from histomics_label.models.prediction import store_epoch
    from histomics_label.models.project import Project
    from histomics_label.models.review import Review
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    count = args.superpixels_per_slide
    labels, centroids, bboxes = synthetic_labels(args.size, count)
    path = os.path.join(workdir, 'labels.tiff')
    write_label_tiff(path, labels)
    del labels
    raters = [User().createUser('rater%d' % n, 'password', 'Rater', str(n), 'r%d@example.com' % n, admin=n == 0)
              for n in range(args.raters)]
    folder = Folder().createFolder(Collection().createCollection('Bench', raters[0]), 'Slides',
                                   parentType='collection', creator=raters[0])
    for index in range(args.slides):  # each slide is its own label image: base size = label size, scale 1
        with open(path, 'rb') as f:
            file = Upload().uploadFromFile(f, os.path.getsize(path), 'slide %03d.tiff' % index, parentType='folder',
                                           parent=folder, user=raters[0])
        ImageItem().createImageItem(ImageItem().load(file['itemId'], force=True), file, user=raters[0],
                                    createJob=False)
    project = Project().create(folder, raters[0], 'Export benchmark', {'magnification': 20.0})
    categories = [Category().create(project, 'Class %d' % i)['_id'] for i in range(args.categories)]
    slides = ProjectSlide().sync(project, folder)
    features = os.path.join(workdir, 'features.h5')
    if args.embedding_dim:
        write_features(features, np.arange(count), rng.normal(size=(count, args.embedding_dim)), 'embedding')
    per_rater = args.labels // (args.slides * args.overlap)
    for number, slide in enumerate(slides):
        slide = SuperpixelGeometry().store(slide, centroids, bboxes, labelItemId=slide['itemId'], scale=1.0)
        if args.embedding_dim:
            with open(features, 'rb') as f:
                file = Upload().uploadFromFile(f, os.path.getsize(features), 'features %d.h5' % number,
                                               parentType='folder', parent=folder, user=raters[0])
            ProjectSlide().set_stage(slide, 'features', 'done', fileId=file['_id'])
        candidates = rng.choice(count, args.candidates, replace=False)
        documents, now = [], datetime.datetime.now(datetime.timezone.utc)
        for k in range(args.overlap):
            rater = raters[(number + k * (args.raters // args.overlap)) % args.raters]
            for superpixel in rng.choice(candidates, min(per_rater, args.candidates), replace=False).tolist():
                documents.append({
                    '_id': document_key(project['_id'], slide['itemId'], superpixel, rater['_id']),
                    'projectId': project['_id'], 'itemId': slide['itemId'], 'superpixel': superpixel,
                    'userId': rater['_id'], 'categoryId': categories[rng.integers(args.categories)],
                    'source': 'paint', 'epoch': None, 'x': float(centroids[superpixel, 0]),
                    'y': float(centroids[superpixel, 1]),
                    'created': now, 'updated': now})
        Label().collection.insert_many(documents)
        reviewed = rng.choice(candidates, args.candidates // 20, replace=False)
        Review().write(project, slide, raters[0], [
            {'superpixel': int(s), 'verdict': 'agree', 'categoryId': str(categories[rng.integers(args.categories)])}
            for s in reviewed], Category().list(project))
    total = count * len(slides)
    probabilities = rng.dirichlet(np.ones(args.categories), size=total).astype(np.float32)
    store_epoch(project, 1, {
        'slide_index': np.repeat(np.arange(len(slides)), count), 'superpixel': np.tile(np.arange(count), len(slides)),
        'predicted': probabilities.argmax(axis=1), 'probabilities': probabilities,
        'certainty': probabilities.max(axis=1), 'ranking': np.arange(total)}, categories)
    project = Project().publish_epoch(project, 1, range(len(slides)), {'kind': 'mlp'})
    Agreement().ensure(project, Label())  # label writes keep it; the bulk insert above did not
    return project, raters[0]


class Memory:
    """Peak resident memory of this process, sampled every 20 ms in a thread."""

    def __init__(self):
        import psutil

        self.process, self.peak, self.running = psutil.Process(), 0, True
        self.baseline = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def stop(self):
        self.running = False
        self.thread.join()
        return (self.peak - self.baseline) / 2 ** 20, self.peak / 2 ** 20


def main():
    args = parse_args()
    import gc

    from girder.models.file import File
    from girder_jobs.models.job import Job

    from histomics_label.services.export import list_exports, start_export
    from histomics_label.services.export_data import ExportContext

    rng = np.random.default_rng(0)
    workdir = tempfile.mkdtemp(prefix='bench-export-')
    start_girder(args, workdir)
    started = time.perf_counter()
    project, user = build(args, workdir, rng)
    setup = time.perf_counter() - started
    updates = []
    original = Job.updateJob

    def counting(self, job, *a, **kw):
        if kw.get('progressCurrent') is not None:
            updates.append((time.perf_counter(), kw['progressCurrent'], kw.get('progressTotal')))
        return original(self, job, *a, **kw)

    Job.updateJob = counting
    database = {'seconds': 0.0, 'queries': 0}
    records = ExportContext.records

    def timed_records(self, *a, **kw):  # label and verdict reads (+ the effective-label rule) per chunk
        started = time.perf_counter()
        try:
            return records(self, *a, **kw)
        finally:
            database['seconds'] += time.perf_counter() - started
            database['queries'] += 2

    ExportContext.records = timed_records
    gc.collect()
    memory = Memory()
    wall, cpu = time.perf_counter(), time.process_time()
    job = start_export(project, user, magnification=args.magnification,
                       includeEmbeddings=bool(args.embedding_dim))  # runs in this thread (no events daemon)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    above, peak = memory.stop()
    job = Job().load(job['_id'], force=True, includeLog=True)
    if job['status'] != 3:
        raise SystemExit(''.join(job['log']))
    [listed] = list_exports(project, user)
    manifest = json.load(File().open(File().load(listed['manifestFileId'], force=True)))
    sizes = {}
    for entry in manifest['files']:
        kind = entry['name'].split('/')[0] if '/' in entry['name'] else entry['name']
        sizes[kind] = sizes.get(kind, 0) + entry['size']
    times = [wall_time for wall_time, _, _ in updates]
    result = {
        'slides': args.slides, 'superpixels': manifest['counts']['superpixels'], 'labels': manifest['counts']['labels'],
        'labeled_superpixels': manifest['counts']['labeledSuperpixels'], 'raters': manifest['counts']['raters'],
        'label_image': '%dx%d' % (args.size, args.size), 'mask_magnification': args.magnification,
        'embedding_dim': args.embedding_dim, 'setup_s': round(setup, 1), 'export_wall_s': round(wall, 1),
        'export_cpu_s': round(cpu, 1), 'label_reads_s': round(database['seconds'], 1),
        'label_queries': database['queries'], 'peak_rss_above_baseline_mb': round(above, 1), 'peak_rss_mb': round(peak, 1),
        'progress_updates': len(updates),
        'longest_progress_gap_s': round(float(np.diff(times).max()), 2) if len(times) > 1 else None,
        'output_mb': {key: round(value / 2 ** 20, 1) for key, value in sorted(sizes.items())},
        'database': database_label(args.mongo_uri),
        'tile_cache_portion': args.cache_portion or 32}
    report(result, args.json)


if __name__ == '__main__':
    main()
