#!/usr/bin/env python
"""Benchmark GET /histomics_label/project/{id}/agreement at study scale, and what keeping it live costs a label write.

Builds a project of --slides slides x --superpixels-per-slide superpixels (default 100 x 10,000 = 1M), --raters
raters (20) and --labels labels (200,000) written through ``Label.write`` in bulk, as the label endpoint does:
each slide is assigned to --overlap raters (3) who label the same --candidates superpixels of it (1,000; each
rater about labels / (slides x overlap) of them), with rater accuracies between 0.65 and 0.95 against a hidden
truth over --categories categories (6). Then it times:

- the endpoint's work (``Agreement.report`` and Girder's JSON encoding of the answer; HTTP excluded) for
  --requests requests with the default 1,000 bootstrap resamples and without bootstrap: p50 / p95 / max;
- label writes of 100-label strokes relabeling superpixels that other raters labeled too, alternately with and
  without the agreement maintenance (``Agreement.record`` swapped for a no-op): p50 / p95 of each;
- the reference, what the maintenance avoids: reading every label of the project and computing the same
  statistics from them in Python (numpy core), once; its numbers are checked to equal the endpoint's.

Runs on the embedded (mongomock) database unless --mongo-uri is given.
"""
import argparse
import collections
import itertools
import json
import time

import numpy as np
from girder_stack import add_arguments, connect, database_label, report, synthetic_project


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--slides', type=int, default=100)
    parser.add_argument('--superpixels-per-slide', type=int, default=10000)
    parser.add_argument('--raters', type=int, default=20)
    parser.add_argument('--labels', type=int, default=200000)
    parser.add_argument('--overlap', type=int, default=3, help='raters per slide')
    parser.add_argument('--candidates', type=int, default=1000, help='superpixels of a slide its raters label')
    parser.add_argument('--categories', type=int, default=6)
    parser.add_argument('--requests', type=int, default=30)
    parser.add_argument('--strokes', type=int, default=40, help='100-label strokes timed with and without')
    add_arguments(parser)
    return parser.parse_args()


def build_project(args):
    from girder.models.user import User

    stamp = str(time.time()).replace('.', '')[-8:]
    raters = [User().createUser('bench%s-%d' % (stamp, n), 'password', 'Rater', str(n),
                                'b%s-%d@example.com' % (stamp, n), admin=(n == 0)) for n in range(args.raters)]
    project, categories, slides = synthetic_project(raters[0], 'Agreement benchmark', args.slides,
                                                    args.superpixels_per_slide, args.categories)
    return project, raters, categories, slides


def study_plan(args, rng):
    """[(slide index, rater index, superpixels, category indices)]: who labels what, --labels in all."""
    truth = rng.choice(args.categories, size=(args.slides, args.superpixels_per_slide),
                       p=np.arange(args.categories, 0, -1) / np.arange(args.categories, 0, -1).sum())
    accuracy = rng.uniform(0.65, 0.95, size=args.raters)
    assignments = [(s, (s + k * (args.raters // args.overlap)) % args.raters)
                   for s in range(args.slides) for k in range(args.overlap)]
    sizes = np.full(len(assignments), args.labels // len(assignments))
    sizes[:args.labels - sizes.sum()] += 1
    plan = []
    for (slide, rater), size in zip(assignments, sizes):
        candidates = np.random.default_rng(slide).choice(args.superpixels_per_slide, args.candidates, replace=False)
        chosen = rng.choice(candidates, size=min(size, args.candidates), replace=False)
        wrong = (truth[slide, chosen] + rng.integers(1, args.categories, size=len(chosen))) % args.categories
        plan.append((slide, rater, chosen, np.where(rng.random(len(chosen)) < accuracy[rater],
                                                    truth[slide, chosen], wrong)))
    return plan


def seed_labels(plan, project, raters, categories, slides, centroids):
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label

    listed = Category().list(project)
    for slide, rater, superpixels, chosen in plan:
        Label().write(project, slides[slide], raters[rater], [
            {'superpixel': int(s), 'categoryId': categories[c]['_id']} for s, c in zip(superpixels, chosen)],
            listed, centroids)


class Timer:
    """Wall and CPU time of a block (CPU time is what an idle machine would show for this single thread)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def percentiles(timers):
    wall, cpu = (np.array([getattr(t, key) for t in timers]) * 1000 for key in ('wall', 'cpu'))
    return {'p50_ms': round(float(np.percentile(wall, 50)), 1), 'p95_ms': round(float(np.percentile(wall, 95)), 1),
            'max_ms': round(float(wall.max()), 1), 'cpu_p50_ms': round(float(np.percentile(cpu, 50)), 1),
            'cpu_p95_ms': round(float(np.percentile(cpu, 95)), 1)}


def time_requests(project, requests, resamples):
    from girder.utility import JsonEncoder

    from histomics_label.models.agreement import Agreement
    from histomics_label.models.label import Label

    timers, answer = [], None
    for _ in range(requests):
        with Timer() as timer:
            answer = Agreement().report(project, Label(), resamples=resamples)
            json.dumps(answer, cls=JsonEncoder)
        timers.append(timer)
    return percentiles(timers), answer


def time_strokes(args, rng, plan, project, raters, categories, slides, centroids):
    """Alternate timed 100-label strokes without and with the maintenance, on co-labeled superpixels."""
    from histomics_label.models import agreement
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label

    listed = Category().list(project)
    record = agreement.Agreement.record
    timings = {'without': [], 'with': []}
    for stroke in range(args.strokes):
        slide, rater, superpixels, _ = plan[rng.integers(len(plan))]
        picked = rng.choice(superpixels, size=min(100, len(superpixels)), replace=False)
        for mode in ('without', 'with'):
            category = categories[(stroke * 2 + (mode == 'with')) % len(categories)]['_id']
            labels = [{'superpixel': int(s), 'categoryId': category} for s in picked]
            if mode == 'without':
                agreement.Agreement.record = lambda *a, **k: None
            try:
                with Timer() as timer:
                    Label().write(project, slides[slide], raters[rater], labels, listed, centroids)
                timings[mode].append(timer)
            finally:
                agreement.Agreement.record = record
    return {mode: percentiles(timers) for mode, timers in timings.items()}


def reference(project):
    """What the maintenance avoids: every label of the project read and the statistics computed in Python."""
    from histomics_label.core import agreement as stats
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label

    categories = Category().list(project)
    resolve = Category().resolve(categories)
    columns = [c['_id'] for c in categories if c.get('mergedInto') is None]
    votes = collections.defaultdict(dict)
    for label in Label().collection.find({'projectId': project['_id']},
                                         {'itemId': 1, 'superpixel': 1, 'userId': 1, 'categoryId': 1}):
        votes[(label['itemId'], label['superpixel'])][label['userId']] = columns.index(resolve[label['categoryId']])
    table = np.zeros((len(votes), len(columns)))
    confusions = collections.defaultdict(lambda: np.zeros((len(columns), len(columns))))
    for row, voters in enumerate(votes.values()):
        for category in voters.values():
            table[row, category] += 1
        for first, second in itertools.combinations(sorted(voters, key=str), 2):
            confusions[(first, second)][voters[first], voters[second]] += 1
    summary = stats.summarize(table, resamples=1000)
    pairs = {pair: stats.cohen_kappa(confusion) for pair, confusion in confusions.items()}
    return summary, pairs


def main():
    args = parse_args()
    connect(args.mongo_uri)
    from histomics_label.models.agreement import Agreement
    from histomics_label.models.label import Label

    rng = np.random.default_rng(0)
    centroids = np.zeros((args.superpixels_per_slide, 2))
    project, raters, categories, slides = build_project(args)
    plan = study_plan(args, rng)
    with Timer() as seeding:
        seed_labels(plan, project, raters, categories, slides, centroids)
    patterns = len(Agreement().collection.find_one({'_id': project['_id']})['patterns'])

    with Timer() as cold:
        Agreement().report(project, Label())
    with_bootstrap, answer = time_requests(project, args.requests, 1000)
    without_bootstrap, _ = time_requests(project, args.requests, 0)
    strokes = time_strokes(args, rng, plan, project, raters, categories, slides, centroids)
    answer = Agreement().report(project, Label())
    with Timer() as reference_time:
        expected, pairs = reference(project)
    assert answer['items'] == expected['items'] and answer['values'] == expected['values']
    assert abs(answer['fleiss']['kappa'] - expected['fleiss']['kappa']) < 1e-9
    assert abs(answer['krippendorff']['alpha'] - expected['krippendorff']['alpha']) < 1e-9
    got = {tuple(p['userIds']): p['kappa'] for p in answer['pairs']}
    assert set(got) == set(pairs) and all(abs(got[p] - pairs[p]['kappa']) < 1e-9 for p in pairs)

    result = {
        'database': database_label(args.mongo_uri),
        'slides': args.slides, 'superpixels': args.slides * args.superpixels_per_slide, 'raters': args.raters,
        'labels': args.labels, 'overlap': args.overlap, 'categories': args.categories,
        'co_labeled_superpixels': answer['items'], 'rater_pairs': len(answer['pairs']), 'patterns': patterns,
        'fleiss_kappa': round(answer['fleiss']['kappa'], 4), 'krippendorff_alpha': round(
            answer['krippendorff']['alpha'], 4),
        'seeding_s': round(seeding.wall, 1), 'seeding_cpu_s': round(seeding.cpu, 1),
        'cold_ms': round(cold.wall * 1000, 1), 'cold_cpu_ms': round(cold.cpu * 1000, 1),
        'get': with_bootstrap, 'get_without_bootstrap': without_bootstrap,
        'stroke_100_without_maintenance': strokes['without'], 'stroke_100_with_maintenance': strokes['with'],
        'reference_all_labels_s': round(reference_time.wall, 2),
        'reference_all_labels_cpu_s': round(reference_time.cpu, 2),
    }
    for key in ('p50_ms', 'cpu_p50_ms'):
        result['overhead_' + key] = round(strokes['with'][key] - strokes['without'][key], 1)
    result['meets_1s_p95'] = with_bootstrap['p95_ms'] <= 1000
    report(result, args.json)


if __name__ == '__main__':
    main()
