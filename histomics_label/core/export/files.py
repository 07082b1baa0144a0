"""Checksums of exported files, and embeddings read from features files row block by row block."""
import hashlib
import os

import numpy as np

from ..features.store import DATASETS


def file_entry(path, name):
    """``{name, size, sha256}`` of a written file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return {'name': name, 'size': os.path.getsize(path), 'sha256': digest.hexdigest()}


class EmbeddingRows:
    """The embeddings of a features file (path or seekable binary file object) by superpixel id, read on demand:
    ``rows(ids)`` -> float32 ``(len(ids), dim)``; ids without a row are a ValueError."""

    def __init__(self, source):
        import h5py

        self.file = h5py.File(source, 'r')
        kind = self.file.attrs.get('kind')
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind != 'embedding':
            self.file.close()
            raise ValueError('the features file holds %s, not embeddings' % kind)
        self.values = self.file[DATASETS['embedding']]
        ids = self.file['ids'][()]
        self.row_of = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
        self.row_of[ids] = np.arange(len(ids))
        self.dim = int(self.values.shape[1])

    def rows(self, ids):
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and (ids.max() >= len(self.row_of) or (self.row_of[ids] < 0).any()):
            raise ValueError('the features file has no row for some superpixels')
        rows = self.row_of[ids]
        order = np.argsort(rows)
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        if len(ids):
            out[order] = self.values[rows[order]]
        return out

    def close(self):
        self.file.close()
