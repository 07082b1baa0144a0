"""Features of every superpixel of a slide: patches, or embeddings of those patches by a backbone."""
import concurrent.futures

import numpy as np

from ..slide_reader import SlideReader
from .backbones import get_backbone
from .patches import iter_patches
from .store import write_features


def extract_features(slide, centroids, output_path, kind='embedding', backbone='efficientnet_lite0',
                     weights_path=None, patch_size=64, magnification=None, label_path=None, batch_size=64,
                     threads=None, progress=None):
    """Write the features of superpixels ``0..len(centroids)-1`` of ``slide`` to ``output_path`` (HDF5).

    Reading the next block of patches overlaps the embedding of the current one (a reader thread).
    :param progress: called with (done, total).
    """
    reader = SlideReader(slide, magnification=magnification)
    centroids = np.asarray(centroids, dtype=np.float64)
    total = len(centroids)
    if not total:
        raise ValueError('no superpixels to featurize')
    model = get_backbone(backbone, weights_path, threads) if kind == 'embedding' else None
    values = np.empty((total, model.dim) if model else (total, patch_size, patch_size, 3),
                      dtype=np.float32 if model else np.uint8)
    done = 0
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        blocks = iter_patches(reader, centroids, patch_size, label_path=label_path)
        pending = pool.submit(next, blocks, None)
        while True:
            block = pending.result()
            if block is None:
                break
            pending = pool.submit(next, blocks, None)
            indices, patches = block
            for start in range(0, len(indices), batch_size):
                chunk = slice(start, start + batch_size)
                values[indices[chunk]] = model.embed(patches[chunk]) if model else patches[chunk]
            done += len(indices)
            if progress:
                progress(done, total)
    write_features(output_path, np.arange(total), values, kind, backbone=model.name if model else None,
                   patch_size=patch_size, magnification=reader.magnification)
    return values
