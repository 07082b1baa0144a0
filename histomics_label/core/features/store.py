"""HDF5 storage of per-superpixel features.

A features file holds ``ids`` (superpixel indices, int64) and either ``embeddings`` (float32 ``(n, dim)``)
or ``patches`` (uint8 ``(n, size, size, 3)``), with attributes ``kind`` (embedding | patches), ``backbone``,
``patch_size``, ``magnification``, ``dim`` and ``format_version``.
"""
import h5py
import numpy as np

FORMAT_VERSION = 1
KINDS = ('embedding', 'patches')


def write_features(path, ids, values, kind, **attrs):
    if kind not in KINDS:
        raise ValueError('kind must be one of %s' % ', '.join(KINDS))
    ids, values = np.asarray(ids, dtype=np.int64), np.asarray(values)
    if len(ids) != len(values):
        raise ValueError('%d ids for %d feature rows' % (len(ids), len(values)))
    with h5py.File(path, 'w') as f:
        f.create_dataset('ids', data=ids)
        dataset = 'embeddings' if kind == 'embedding' else 'patches'
        f.create_dataset(dataset, data=values.astype(np.float32 if kind == 'embedding' else np.uint8),
                         compression='gzip' if kind == 'patches' else None, chunks=True)
        f.attrs.update({'kind': kind, 'format_version': FORMAT_VERSION,
                        'dim': int(np.prod(values.shape[1:])), **{k: v for k, v in attrs.items() if v is not None}})


def read_features(path):
    """``(ids, values, attrs)`` of a features file; ValueError if it is not one."""
    with h5py.File(path, 'r') as f:
        kind = f.attrs.get('kind')
        if kind not in KINDS or 'ids' not in f:
            raise ValueError('%s is not a Histomics Label features file' % path)
        values = f['embeddings' if kind == 'embedding' else 'patches'][()]
        return f['ids'][()], values, dict(f.attrs)
