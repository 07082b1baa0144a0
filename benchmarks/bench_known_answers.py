#!/usr/bin/env python
"""Benchmark what known-answer items (the project setting ``knownAnswerShare``) add to GET next.

The project, labels and epoch of ``bench_ranking.py`` (same options: default 10 x 100,000 = 1M superpixels, a
labeler with 5,000 labels at the top of the ranking), plus --verdicts reviewer verdicts on random superpixels.
Times the endpoint's work for --requests requests at random offsets 0-499 three ways: the ranked queue alone
(share 0), with known-answer items at --share (the decided superpixels read once and reused, as for 30 s in
service) and with the decided superpixels read on every request (the cost of one refresh of that cache).
Checks that the mixed pages hold --share of known-answer items.
"""
import argparse
import datetime
import sys
import time

import numpy as np
from bench_ranking import add_labels, build_project, parse_args, predictions
from girder_stack import connect, database_label, report


def add_verdicts(rng, project, slides, per_slide, count, category):
    """``count`` agree verdicts (for ``category``) of a new reviewer on random superpixels; returns their keys."""
    from girder.models.user import User

    from histomics_label.models.review import Review
    from histomics_label.models.superpixel_key import superpixel_keys

    stamp = str(time.time())[-6:]
    reviewer = User().createUser('reviewer' + stamp, 'password', 'R', 'V', 'r%s@example.com' % stamp)
    picks = rng.choice(per_slide * len(slides), size=count, replace=False)
    now = datetime.datetime.now(datetime.timezone.utc)
    Review().collection.insert_many([{
        'projectId': project['_id'], 'itemId': slides[key // per_slide]['itemId'], 'superpixel': int(key % per_slide),
        'reviewerId': reviewer['_id'], 'verdict': 'agree', 'categoryId': category['_id'], 'comment': '', 'time': now}
        for key in picks])
    return superpixel_keys(picks // per_slide, picks % per_slide)


def timed(fn, offsets):
    """(cold ms, p50 ms, p95 ms, rows) of ``fn(offset)`` at offset 0 then at each of ``offsets``."""
    start = time.perf_counter()
    rows = list(fn(0))
    cold = time.perf_counter() - start
    latencies = []
    for offset in offsets:
        start = time.perf_counter()
        rows.extend(fn(int(offset)))
        latencies.append(time.perf_counter() - start)
    ms = np.array(latencies) * 1000
    return round(cold * 1000, 1), round(float(np.percentile(ms, 50)), 2), round(float(np.percentile(ms, 95)), 2), rows


def main():
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument('--verdicts', type=int, default=5000)
    extra.add_argument('--share', type=float, default=0.1)
    own, sys.argv[1:] = extra.parse_known_args()  # the rest are bench_ranking's options
    args = parse_args()
    connect(args.mongo_uri)
    from histomics_label.models.prediction import next_superpixels, prediction_rows, store_epoch
    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide
    from histomics_label.services import known_answers

    rng = np.random.default_rng(0)
    project, user, categories, per_slide, slides = build_project(args, rng)
    arrays = predictions(args, rng, per_slide)
    add_labels(args, rng, project, user, categories[0], slides, per_slide, arrays['ranking'])
    project = Project().publish_epoch(project, 1, store_epoch(project, 1, arrays, [c['_id'] for c in categories]))
    decided = add_verdicts(rng, project, slides, per_slide, own.verdicts, categories[1])
    offsets = rng.integers(0, 500, size=args.requests)

    def mixed(offset):
        return prediction_rows(project, known_answers.mixed_keys(project, user, args.limit, offset, own.share))

    plain = timed(lambda offset: next_superpixels(project, user, args.limit, offset), offsets)
    cached = timed(mixed, offsets)
    known_answers.POOL_TTL = -1
    refreshed = timed(mixed, offsets[:max(1, args.requests // 10)])
    index_of = {s['itemId']: s['index'] for s in ProjectSlide().list(project)}
    keys = np.array([(index_of[row['itemId']] << 32) | row['superpixel'] for row in cached[3]])
    result = {
        'superpixels': per_slide * args.slides, 'labeled': args.labeled, 'verdicts': own.verdicts,
        'share': own.share, 'requests': args.requests, 'limit': args.limit,
        'database': database_label(args.mongo_uri),
        'share0_cold_ms': plain[0], 'share0_p50_ms': plain[1], 'share0_p95_ms': plain[2],
        'mixed_cold_ms': cached[0], 'mixed_p50_ms': cached[1], 'mixed_p95_ms': cached[2],
        'refresh_p50_ms': refreshed[1], 'refresh_p95_ms': refreshed[2],
        'known_share_of_rows': round(float(np.isin(keys, decided).mean()), 3),
    }
    report(result, args.json)


if __name__ == '__main__':
    main()
