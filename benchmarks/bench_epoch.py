#!/usr/bin/env python
"""Benchmark one training epoch's compute (``core.training.train_and_predict``, what TrainAndPredict runs) as
the project grows: time and peak memory for --sizes total superpixels.

Each size runs in its own subprocess on random features (--dim, float32) split into slides of
--per-slide superpixels, with --labels random labels over --categories categories, the default MLP and
--mc-samples MC-dropout passes. Prints seconds and the subprocess's peak RSS, and both per million superpixels.
(The epoch also downloads every slide's features file first; that is not timed here.)
"""
import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[200000, 500000])
    parser.add_argument('--per-slide', type=int, default=100000)
    parser.add_argument('--dim', type=int, default=1280, help='1280: efficientnet_lite0; 1024: UNI, DenseNet')
    parser.add_argument('--categories', type=int, default=8)
    parser.add_argument('--labels', type=int, default=5000)
    parser.add_argument('--mc-samples', type=int, default=20, help="TrainAndPredict's default")
    parser.add_argument('--one', type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    return parser.parse_args(argv)


def run_one(args):
    from histomics_label.core.training import train_and_predict

    rng = np.random.default_rng(0)
    full, rest = divmod(args.one, args.per_slide)
    sizes = [args.per_slide] * full + ([rest] if rest else [])
    slides = {i: (np.arange(n), rng.standard_normal((n, args.dim), dtype=np.float32)) for i, n in enumerate(sizes)}
    slide = rng.integers(0, len(sizes), args.labels)
    keys = np.unique(np.column_stack([slide, rng.integers(0, np.array(sizes)[slide])]), axis=0)
    labels = np.column_stack([keys, rng.integers(0, args.categories, len(keys))])
    start = time.time()
    train_and_predict(slides, labels, ['c%d' % i for i in range(args.categories)], model_kind='mlp',
                      mc_samples=args.mc_samples)
    seconds = time.time() - start
    print(json.dumps({'superpixels': args.one, 'seconds': seconds,
                      'peakRssGB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))


def main(argv=None):
    args = parse_args(argv)
    if args.one:
        return run_one(args)
    print('superpixels  seconds  peak RSS (GB)  s / 1M  GB / 1M')
    for size in args.sizes:
        command = [sys.executable, __file__, '--one', str(size)] + [
            option for name in ('per_slide', 'dim', 'categories', 'labels', 'mc_samples')
            for option in ('--' + name.replace('_', '-'), str(getattr(args, name)))]
        result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        millions = size / 1e6
        print('%11d  %7.1f  %13.1f  %6.1f  %7.1f' % (size, result['seconds'], result['peakRssGB'],
                                                    result['seconds'] / millions, result['peakRssGB'] / millions))


if __name__ == '__main__':
    main()
