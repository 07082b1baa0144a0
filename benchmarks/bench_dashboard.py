#!/usr/bin/env python
"""Benchmark GET /histomics_label/project/{id}/dashboard at study scale (issue 12, item 6).

Builds a project of --slides slides with --superpixels superpixels in all (default 100 x 10,000 = 1M), a study
of --raters raters (default 20) with one assignment (overlap --overlap, --quota superpixels per slide) and
--labels labels (default 200,000), each rater labeling the head of their queue in writes of --write-size
labels spread over the last --spread-hours hours. Labels and their history go into the database in bulk; the
dashboard's counters are kept by the production code path (``LabelStats.record`` once per write, as
``Label.write`` calls it). Then it times the dashboard (``services.dashboard.dashboard`` plus JSON encoding:
the endpoint's work) for --requests requests, checks its totals against what was written, and times one
counter update (the cost a label write pays). ``--rebuild`` also times the one-time recount from the history.

Runs on the embedded (mongomock) database unless --mongo-uri is given. Prints the latencies and whether p95
meets the 1 s target, and the CPU time per request (the machine's load does not change it).
"""
import argparse
import datetime
import json
import time

import numpy as np
from girder_stack import add_arguments, connect, database_label, report, synthetic_project


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--slides', type=int, default=100)
    parser.add_argument('--superpixels', type=int, default=1000000, help='in all slides together')
    parser.add_argument('--raters', type=int, default=20)
    parser.add_argument('--labels', type=int, default=200000)
    parser.add_argument('--overlap', type=int, default=3)
    parser.add_argument('--quota', type=int, default=1000, help='superpixels per slide in the assignment')
    parser.add_argument('--categories', type=int, default=8)
    parser.add_argument('--write-size', type=int, default=100, help='labels per write')
    parser.add_argument('--spread-hours', type=int, default=48)
    parser.add_argument('--requests', type=int, default=30)
    parser.add_argument('--rebuild', action='store_true', help='also time a recount from the history')
    add_arguments(parser)
    return parser.parse_args()


def build_study(args):
    from girder.models.user import User

    from histomics_label.models.assignment import Assignment
    from histomics_label.models.label_stats import LabelStats
    from histomics_label.models.study import Study

    stamp = str(time.time()).replace('.', '')[-8:]
    admin = User().createUser('lead' + stamp, 'password', 'L', 'Ead', 'l%s@example.com' % stamp, admin=True)
    project, categories, slides = synthetic_project(admin, 'Dashboard benchmark', args.slides,
                                                    args.superpixels // args.slides, args.categories)
    LabelStats().start(project['_id'])  # what the project-created event handler does in a running Girder
    raters = [User().createUser('rater%s-%d' % (stamp, n), 'password', 'R', str(n), 'r%s-%d@example.com' % (
        stamp, n)) for n in range(args.raters)]
    Study().collection.insert_one({'_id': project['_id'], 'projectId': project['_id'], 'roles': {
        str(admin['_id']): ['lead'], **{str(r['_id']): ['trainee'] for r in raters}}})
    assignment = Assignment().create(project, admin, 'Benchmark', slides, [r['_id'] for r in raters], args.overlap,
                                     args.quota, 'random', 0)
    return project, admin, raters, categories, slides, assignment


def write_labels(args, rng, project, raters, categories, slides):
    """Each rater labels the head of their queue: labels and history in bulk, labeled keys and the dashboard
    counters as the label writes keep them. Returns how many labels were written."""
    from histomics_label.models.assignment import assigned_keys
    from histomics_label.models.label import Label, LabeledKeys, LabelHistory, document_key
    from histomics_label.models.label_stats import LabelStats
    from histomics_label.models.superpixel_key import KEY_SHIFT

    by_index = {s['index']: s for s in slides}
    queues = assigned_keys(project)
    per_rater = args.labels // len(raters)
    now = datetime.datetime.now(datetime.timezone.utc)
    written = 0
    for rater in raters:
        keys = queues[rater['_id']][0][:per_rater]
        chosen = rng.integers(0, len(categories), size=len(keys))
        starts = now - datetime.timedelta(hours=args.spread_hours) + datetime.timedelta(
            seconds=float(rng.uniform(0, 3600)))
        labels, history = [], []
        for number, (key, column) in enumerate(zip(keys.tolist(), chosen.tolist())):
            slide, superpixel = by_index[key >> KEY_SHIFT], key & ((1 << KEY_SHIFT) - 1)
            when = starts + datetime.timedelta(hours=args.spread_hours * number / len(keys))
            category = categories[column]['_id']
            labels.append({'_id': document_key(project['_id'], slide['itemId'], superpixel, rater['_id']),
                           'projectId': project['_id'], 'itemId': slide['itemId'], 'superpixel': superpixel,
                           'userId': rater['_id'], 'categoryId': category, 'source': 'guided', 'epoch': None,
                           'created': when, 'updated': when, 'x': 0.0, 'y': 0.0})
            history.append({'projectId': project['_id'], 'itemId': slide['itemId'], 'superpixel': superpixel,
                            'userId': rater['_id'], 'categoryId': category, 'source': 'guided', 'epoch': None,
                            'time': when, 'previous': None})
        Label().collection.insert_many(labels)
        for start in range(0, len(history), args.write_size):  # one counter update per write, as Label.write
            LabelStats().record(project['_id'], history[start:start + args.write_size])
        LabelHistory().collection.insert_many(history)
        for index in np.unique(keys >> KEY_SHIFT).tolist():
            on_slide = keys[(keys >> KEY_SHIFT) == index] & ((1 << KEY_SHIFT) - 1)
            LabeledKeys().record(project, rater, index, {int(sp): True for sp in on_slide})
        written += len(labels)
    return written


def timed(function, repeat):
    """(last result, wall times in ms, CPU times of this process in ms)."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return result, np.array(times) * 1000, np.array(cpu) * 1000


def main():
    args = parse_args()
    connect(args.mongo_uri)
    from histomics_label.models.assignment import AssignmentSample
    from histomics_label.models.label import LabelHistory
    from histomics_label.models.label_stats import LabelStats
    from histomics_label.services.dashboard import dashboard

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    project, admin, raters, categories, slides, assignment = build_study(args)
    written = write_labels(args, rng, project, raters, categories, slides)
    setup = time.perf_counter() - start

    def request():
        return json.dumps(dashboard(project, hours=24), default=str)

    AssignmentSample().samples.cache_clear()
    body, cold, _ = timed(request, 1)
    body, warm, warm_cpu = timed(request, args.requests)
    board = json.loads(body)
    assigned = sum(e['count'] * len(e['userIds']) for e in assignment['slides'])
    assert board['totals']['labels'] == written, board['totals']
    assert board['totals']['assigned'] == assigned and board['totals']['done'] == written, board['totals']
    assert sum(c['labels'] for c in board['categories']) == written
    assert len(board['users']) == args.raters + 1 and len(board['slides']) == args.slides

    entries = list(LabelHistory().collection.find({'projectId': project['_id']}, limit=args.write_size))
    _, record, _ = timed(lambda: LabelStats().record(project['_id'], entries), 20)
    result = {
        'database': database_label(args.mongo_uri), 'slides': args.slides,
        'superpixels': args.superpixels, 'raters': args.raters, 'labels': written, 'assigned': assigned,
        'overlap': args.overlap, 'quota_per_slide': args.quota, 'requests': args.requests,
        'setup_s': round(setup, 1), 'cold_ms': round(float(cold[0]), 1),
        'p50_ms': round(float(np.percentile(warm, 50)), 1), 'p95_ms': round(float(np.percentile(warm, 95)), 1),
        'max_ms': round(float(warm.max()), 1), 'cpu_p50_ms': round(float(np.percentile(warm_cpu, 50)), 1),
        'response_kb': round(len(body) / 1024, 1),
        'counter_update_per_write_ms': round(float(np.median(record)), 2),
    }
    if args.rebuild:
        _, rebuild, _ = timed(lambda: LabelStats().rebuild(project['_id'], LabelHistory().collection), 1)
        result['rebuild_from_history_s'] = round(float(rebuild[0]) / 1000, 1)
        again = json.loads(request())
        assert again['totals'] == board['totals'] and again['users'] == board['users'], 'rebuild differs'
    result['meets_1s_p95'] = result['p95_ms'] <= 1000
    report(result, args.json)


if __name__ == '__main__':
    main()
