#!/usr/bin/env python
"""Benchmark GET /histomics_label/project/{id}/next at scale: the ranked queue of superpixels to label.

Builds a project of --slides slides with --superpixels superpixels in all (default 10 x 100,000 = 1M) and
a labeler who labeled --labeled of them, stores one epoch of predictions for --categories categories,
then times ``next_superpixels`` (the endpoint's work: ranking window, skipping the caller's labels,
prediction details) for --requests requests at random offsets. In the same run it times the reference
system's approach (Histomics Label v1 loads every slide's predictions and sorts them all for each
request, in the browser) done as generously as possible: in-process numpy, no JSON transfer.

Runs on the embedded (mongomock) database unless --mongo-uri is given. Prints p50/p95/max latencies,
the ratio to the reference, and whether p95 meets the 50 ms target.
"""
import argparse
import datetime
import time

import numpy as np
from girder_stack import add_arguments, connect, database_label, report, synthetic_project


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--slides', type=int, default=10)
    parser.add_argument('--superpixels', type=int, default=1000000, help='in all slides together')
    parser.add_argument('--categories', type=int, default=8)
    parser.add_argument('--labeled', type=int, default=5000, help='superpixels the labeler has labeled')
    parser.add_argument('--labeled-where', choices=('random', 'top'), default='top',
                        help='random superpixels, or the top of the ranking (a labeler working the queue)')
    parser.add_argument('--requests', type=int, default=300)
    parser.add_argument('--limit', type=int, default=20)
    parser.add_argument('--reference-requests', type=int, default=5)
    add_arguments(parser)
    return parser.parse_args()


def build_project(args, rng):
    from girder.models.user import User

    stamp = str(time.time())
    admin = User().createUser('bench' + stamp[-6:], 'password', 'B', 'A', 'b%s@example.com' % stamp[-6:],
                              admin=True)
    per_slide = args.superpixels // args.slides
    project, categories, slides = synthetic_project(admin, 'Ranking benchmark', args.slides, per_slide,
                                                    args.categories)
    return project, admin, categories, per_slide, slides


def add_labels(args, rng, project, user, category, slides, per_slide, ranking):
    from histomics_label.models.label import Label, LabeledKeys, document_key

    if args.labeled_where == 'top':
        picks = ranking[:args.labeled]  # rows are slide-major, so a row is also slide * per_slide + superpixel
    else:
        picks = rng.choice(args.slides * per_slide, size=args.labeled, replace=False)
    now = datetime.datetime.now(datetime.timezone.utc)
    Label().collection.insert_many([{
        '_id': document_key(project['_id'], slides[key // per_slide]['itemId'], int(key % per_slide), user['_id']),
        'projectId': project['_id'], 'itemId': slides[key // per_slide]['itemId'],
        'superpixel': int(key % per_slide), 'userId': user['_id'], 'categoryId': category['_id'],
        'updated': now} for key in picks])
    for index, slide in enumerate(slides):  # what Label().write keeps up to date
        on_slide = {int(key % per_slide): category['_id'] for key in picks if key // per_slide == index}
        LabeledKeys().record(project, user, slide['index'], on_slide)


def predictions(args, rng, per_slide):
    count = per_slide * args.slides
    probabilities = rng.dirichlet(np.ones(args.categories), size=count).astype(np.float32)
    certainty = probabilities.max(axis=1)
    return {
        'slide_index': np.repeat(np.arange(args.slides), per_slide), 'superpixel': np.tile(np.arange(per_slide),
                                                                                            args.slides),
        'predicted': probabilities.argmax(axis=1), 'probabilities': probabilities, 'certainty': certainty,
        'ranking': np.argsort(certainty, kind='stable')}


def reference_request(project, user, limit):
    """v1's approach, generously in numpy: load all predictions, sort all, drop my labels, take a page."""
    from histomics_label.models.label import Label
    from histomics_label.models.prediction import Prediction
    from histomics_label.models.superpixel_key import superpixel_keys
    from histomics_label.models.slide import ProjectSlide

    Prediction()._arrays.cache_clear()
    keys, certainties = [], []
    slides = ProjectSlide().list(project)
    for slide in slides:
        _, _, certainty, _ = Prediction().slide_arrays(project, slide)
        keys.append(superpixel_keys(np.full(len(certainty), slide['index']), np.arange(len(certainty))))
        certainties.append(certainty)
    keys, certainties = np.concatenate(keys), np.concatenate(certainties)
    order = keys[np.argsort(certainties, kind='stable')]
    index_of = {s['itemId']: s['index'] for s in slides}
    labeled = superpixel_keys(*zip(*[(index_of[d['itemId']], d['superpixel']) for d in Label().find(
        {'projectId': project['_id'], 'userId': user['_id']}, fields=['itemId', 'superpixel'])]))
    return order[~np.isin(order, labeled)][:limit]


def main():
    args = parse_args()
    connect(args.mongo_uri)
    from histomics_label.models.prediction import next_superpixels, store_epoch
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    project, user, categories, per_slide, slides = build_project(args, rng)
    arrays = predictions(args, rng, per_slide)
    add_labels(args, rng, project, user, categories[0], slides, per_slide, arrays['ranking'])
    setup = time.perf_counter() - start
    start = time.perf_counter()
    slides = store_epoch(project, 1, arrays, [c['_id'] for c in categories])
    project = Project().publish_epoch(project, 1, slides)
    ingest = time.perf_counter() - start

    start = time.perf_counter()
    first = next_superpixels(project, user, args.limit, 0)
    cold = time.perf_counter() - start
    latencies = []
    for offset in rng.integers(0, 500, size=args.requests):
        start = time.perf_counter()
        batch = next_superpixels(project, user, args.limit, int(offset))
        latencies.append(time.perf_counter() - start)
        assert len(batch) == args.limit
    reference = []
    for _ in range(args.reference_requests):
        start = time.perf_counter()
        expected = reference_request(project, user, args.limit)
        reference.append(time.perf_counter() - start)
    index_of = {s['itemId']: s['index'] for s in ProjectSlide().list(project)}
    got = [(index_of[n['itemId']] << 32) | n['superpixel'] for n in first]
    assert got == expected.tolist(), 'the endpoint and the reference disagree on the first page'

    ms = np.array(latencies) * 1000
    result = {
        'superpixels': per_slide * args.slides, 'slides': args.slides, 'categories': args.categories,
        'labeled': args.labeled, 'labeled_where': args.labeled_where, 'requests': args.requests, 'limit': args.limit,
        'database': database_label(args.mongo_uri),
        'setup_s': round(setup, 2), 'ingest_s': round(ingest, 2), 'cold_ms': round(cold * 1000, 1),
        'p50_ms': round(float(np.percentile(ms, 50)), 2), 'p95_ms': round(float(np.percentile(ms, 95)), 2),
        'max_ms': round(float(ms.max()), 2),
        'reference_ms': round(float(np.median(reference)) * 1000, 1),
    }
    result['speedup_vs_reference_p95'] = round(result['reference_ms'] / result['p95_ms'], 1)
    result['meets_50ms_p95'] = result['p95_ms'] <= 50
    report(result, args.json)


if __name__ == '__main__':
    main()
