"""Features of a slide's superpixels: their patches, or embeddings of those patches, written to a file.

Patches are read block by block by a thread pool while the backbone embeds earlier batches (ONNX Runtime and
torch release the GIL), so reading and inference overlap. Rows are stored in reading order (slide blocks in
raster order); the file's ``ids`` say which superpixel each row is.
"""
import os
from collections import namedtuple

import numpy as np

from ..slide_reader import SlideReader
from .backbones import DEFAULT_BACKBONE, Backbone, get_backbone
from .patches import group_rows, iter_patches, patch_origins
from .store import DATASETS, FeatureWriter

FeaturesInfo = namedtuple('FeaturesInfo', 'path ids shape attrs')


def _rebatch(blocks, size):
    """Re-cut a stream of arrays into arrays of ``size`` rows (the last may be shorter)."""
    pending, count = [], 0
    for block in blocks:
        pending.append(block)
        count += len(block)
        while count >= size:
            joined = np.concatenate(pending)
            yield joined[:size]
            pending, count = [joined[size:]], count - size
    if count:
        yield np.concatenate(pending)


def extract_features(slide, centroids, output_path, kind='embedding', backbone=DEFAULT_BACKBONE,
                     weights_path=None, patch_size=64, magnification=None, ids=None, labels=None,
                     label_path=None, fill=(255, 255, 255), batch_size=32, threads=None, read_threads=2,
                     runtime='auto', block=1024, progress=None, attrs=None):
    """Write patches or embeddings of superpixels to ``output_path`` (HDF5, or ``.npz``; see :mod:`.store`).

    :param slide: a path or large_image source (or array / SlideReader) of the slide.
    :param centroids: ``(n, 2)`` superpixel centroids (x, y) in base-slide pixels.
    :param kind: ``embedding`` or ``patches``.
    :param backbone: a backbone name (with ``weights_path``, ``threads``, ``runtime``; see
        :func:`.backbones.get_backbone`) or a :class:`.backbones.Backbone`.
    :param patch_size: patch side in pixels at ``magnification`` (``None``: native; above native raises).
    :param ids: superpixel ids of the centroids (default ``0..n-1``).
    :param labels: label image to mask each patch to its superpixel (path, array or callable; see
        :mod:`.patches`); ``label_path`` is the same for a path. Masked pixels become ``fill``.
    :param threads: inference threads (``None``: the runtime's default); ``read_threads``: reader threads.
    :param progress: called with ``(done, total)`` as rows are written.
    :returns: ``FeaturesInfo(path, ids, shape, attrs)``, ``ids`` in storage order.
    """
    if kind not in DATASETS:
        raise ValueError('kind must be one of %s, got %r' % (', '.join(DATASETS), kind))
    reader = slide if isinstance(slide, SlideReader) else SlideReader(slide, magnification=magnification)
    centroids = np.asarray(centroids, dtype=np.float64)
    total = len(centroids)
    if not total:
        raise ValueError('no superpixels to featurize')
    ids = np.arange(total, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    if ids.shape != (total,) or len(np.unique(ids)) != total:
        raise ValueError('ids must be %d distinct integers, one per centroid' % total)
    model = None
    if kind == 'embedding':
        model = backbone if isinstance(backbone, Backbone) else get_backbone(
            backbone, weights_path, threads=threads, runtime=runtime)
    # storage order = reading order, so each block of rows is written contiguously
    order = np.concatenate(group_rows(patch_origins(centroids, reader.scale, patch_size), block))
    labels = labels if labels is not None else label_path
    info = dict(attrs or {}, patch_size=int(patch_size), magnification=reader.magnification,
                native_magnification=reader.native_magnification, mm_per_pixel=reader.mm_per_pixel,
                masked=labels is not None, fill=list(np.broadcast_to(np.asarray(fill, np.uint8), (3,)).tolist()))
    if isinstance(slide, (str, os.PathLike)):
        info.setdefault('slide', os.path.basename(os.fspath(slide)))
    if model is not None:
        info.update(backbone=model.name, input_size=model.input_size, runtime=model.runtime)
    blocks = (patches for _, patches in iter_patches(
        reader, centroids[order], patch_size, ids=ids[order], labels=labels, fill=fill, block=block,
        threads=read_threads))
    row_shape = (model.dim,) if model is not None else (patch_size, patch_size, 3)
    with FeatureWriter(output_path, ids[order], row_shape, kind, **info) as writer:
        for batch in _rebatch(blocks, max(1, int(batch_size))):
            writer.append(model.embed(batch) if model is not None else batch)
            if progress:
                progress(writer.written, total)
        stored = dict(writer.attrs, complete=True)
    return FeaturesInfo(os.fspath(output_path), ids[order], (total,) + row_shape, stored)
