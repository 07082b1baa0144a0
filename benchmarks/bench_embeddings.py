"""Embedding throughput (patches/s) per backbone on CPU, and end-to-end feature extraction on a slide.

For each backbone and runtime: cold load (ONNX export into an empty cache when the runtime is ONNX Runtime),
warm load, then patches/s at batch sizes 1 and 32 on the 224x224 crc32 patches (after one warm-up batch,
for at least ``--seconds`` per measurement). Then ``extract_features`` on CMU-1-Small-Region: superpixel
centroids on a grid, 64 px patches at 20x, default backbone, with 2 reader threads vs 1.

    .venv/bin/python benchmarks/bench_embeddings.py [--threads 2] [--seconds 8] [--vit-large]

``--vit-large`` adds a randomly initialised ViT-L/16 (UNI's architecture, 1.2 GB of weights written to a
temporary file) to show what UNI costs on CPU.
"""
import argparse
import glob
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DATA = os.path.join(os.path.dirname(ROOT), 'shared', 'data')
SLIDE = os.path.join(DATA, 'slides', 'CMU-1-Small-Region.svs')

from histomics_label.core.features.backbones import get_backbone  # noqa: E402
from histomics_label.core.features.extract import extract_features  # noqa: E402


def rate(backbone, patches, batch, seconds):
    """Patches per second embedding ``patches`` in batches of ``batch`` (one warm-up batch first, then
    batches for at least ``seconds``)."""
    backbone.embed(patches[:batch])
    done, start, index = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds or not done:
        chunk = np.take(patches, range(index, index + batch), axis=0, mode='wrap')
        backbone.embed(chunk)
        done, index = done + batch, index + batch
    return done / (time.perf_counter() - start)


def vit_large_weights(path):
    """Random weights in the timm layout of UNI (ViT-L/16, 224 px, LayerScale)."""
    import torch

    dim, hidden, state = 1024, 4096, {}
    generator = torch.Generator().manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, generator=generator) * 0.02

    state.update({'cls_token': randn(1, 1, dim), 'pos_embed': randn(1, 197, dim),
                  'patch_embed.proj.weight': randn(dim, 3, 16, 16), 'patch_embed.proj.bias': torch.zeros(dim),
                  'norm.weight': torch.ones(dim), 'norm.bias': torch.zeros(dim)})
    for block in range(24):
        for name, shape in (('attn.qkv', (3 * dim, dim)), ('attn.proj', (dim, dim)), ('mlp.fc1', (hidden, dim)),
                            ('mlp.fc2', (dim, hidden))):
            state['blocks.%d.%s.weight' % (block, name)] = randn(*shape)
            state['blocks.%d.%s.bias' % (block, name)] = torch.zeros(shape[0])
        for name in ('norm1', 'norm2'):
            state['blocks.%d.%s.weight' % (block, name)] = torch.ones(dim)
            state['blocks.%d.%s.bias' % (block, name)] = torch.zeros(dim)
        for name in ('ls1', 'ls2'):
            state['blocks.%d.%s.gamma' % (block, name)] = torch.full((dim,), 1e-5)
    torch.save(state, path)
    return path


def bench_backbones(cases, threads, seconds, patches):
    print('| backbone | runtime | dim | cold load (s) | warm load (s) | batch 1 (patches/s) '
          '| batch 32 (patches/s) |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for name, runtime, weights in cases:
        with tempfile.TemporaryDirectory() as cache:
            os.environ['HISTOMICS_LABEL_CACHE'] = cache
            start = time.perf_counter()
            get_backbone(name, weights, threads=threads, runtime=runtime)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            backbone = get_backbone(name, weights, threads=threads, runtime=runtime)
            warm = time.perf_counter() - start
            single, batched = rate(backbone, patches, 1, seconds), rate(backbone, patches, 32, seconds)
        print('| %s | %s | %d | %.1f | %.1f | %.1f | %.1f |' % (
            name, backbone.runtime, backbone.dim, cold, warm, single, batched), flush=True)


def bench_extract(threads, spacing=100, patch_size=64):
    """extract_features on a grid of centroids of the CMU slide, 2 reader threads vs 1."""
    xs, ys = np.meshgrid(np.arange(spacing // 2, 2220, spacing), np.arange(spacing // 2, 2967, spacing))
    centroids = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(float)
    backbone = get_backbone('efficientnet_lite0', threads=threads)
    print('\nextract_features, CMU-1-Small-Region, %d centroids every %d px, %d px patches at 20x, %s, '
          'batch 32:' % (len(centroids), spacing, patch_size, backbone))
    with tempfile.TemporaryDirectory() as scratch:
        for kind, read_threads in (('patches', 2), ('embedding', 1), ('embedding', 2)):
            start = time.perf_counter()
            extract_features(SLIDE, centroids, os.path.join(scratch, 'f.h5'), kind=kind, backbone=backbone,
                             patch_size=patch_size, read_threads=read_threads, batch_size=32)
            elapsed = time.perf_counter() - start
            print('  %-9s read_threads=%d: %.2f s, %.1f superpixels/s' % (
                kind, read_threads, elapsed, len(centroids) / elapsed), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seconds', type=float, default=8)
    parser.add_argument('--vit-large', action='store_true')
    args = parser.parse_args()
    import onnxruntime
    import torch

    print('torch %s, onnxruntime %s, %d CPUs, load average %s, threads=%d' % (
        torch.__version__, onnxruntime.__version__, os.cpu_count(), os.getloadavg(), args.threads))
    patches = np.stack([np.asarray(Image.open(path).convert('RGB'))
                        for path in sorted(glob.glob(os.path.join(DATA, 'crc32', '*.png')))])
    cases = [('efficientnet_lite0', 'onnx', None), ('efficientnet_lite0', 'torch', None),
             ('densenet121_pathmnist', 'onnx', None), ('densenet121_pathmnist', 'torch', None)]
    with tempfile.TemporaryDirectory() as scratch:
        if args.vit_large:
            cases.append(('uni', 'torch', vit_large_weights(os.path.join(scratch, 'vit_large.bin'))))
        bench_backbones(cases, args.threads, args.seconds, patches)
    bench_extract(args.threads)


if __name__ == '__main__':
    main()
