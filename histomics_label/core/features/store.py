"""Features files: per-superpixel embeddings or patches with the superpixel ids and how they were made.

Format (HDF5, written with h5py; any path not ending in ``.npz``):

- ``ids``: int64 ``(n,)``, the superpixel id of each row (rows need not be sorted by id);
- ``embeddings``: float32 ``(n, dim)`` when ``kind`` is ``embedding``, or ``patches``: uint8
  ``(n, size, size, 3)`` (gzip level 1) when ``kind`` is ``patches``;
- file attributes: ``format`` (``histomics_label.features``), ``format_version`` (1), ``kind``, ``complete``
  (False until every row is written), ``dim`` (values per row), ``embedding_dim`` (embeddings only), and
  what the producer adds, e.g. ``backbone``, ``patch_size``, ``magnification``.

A ``.npz`` path holds the same arrays plus ``attrs``, a JSON string of the attributes; it is written in one go
when the writer closes, where HDF5 streams rows to disk.
"""
import json
import os

import numpy as np

FORMAT = 'histomics_label.features'
FORMAT_VERSION = 1
DATASETS = {'embedding': 'embeddings', 'patches': 'patches'}


def _plain(value):
    """An attribute value as a plain Python/JSON value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class FeatureWriter:
    """Write a features file for ``ids`` (storage order) row block by row block, with :meth:`append`.

    Use as a context manager: on an exception the partial file is removed; on a normal exit all
    ``len(ids)`` rows must have been written.
    """

    def __init__(self, path, ids, row_shape, kind, **attrs):
        if kind not in DATASETS:
            raise ValueError('kind must be one of %s, got %r' % (', '.join(DATASETS), kind))
        self.path, self.kind = os.fspath(path), kind
        self.ids = np.asarray(ids, dtype=np.int64).ravel()
        self.row_shape = tuple(int(v) for v in row_shape)
        self.written = 0
        self.dtype = np.float32 if kind == 'embedding' else np.uint8
        dim = int(np.prod(self.row_shape))
        self.attrs = {'format': FORMAT, 'format_version': FORMAT_VERSION, 'kind': kind, 'dim': dim}
        if kind == 'embedding':
            self.attrs['embedding_dim'] = dim
        self.attrs.update({key: _plain(value) for key, value in attrs.items() if value is not None})
        shape = (len(self.ids),) + self.row_shape
        if self.path.endswith('.npz'):
            self._file, self._values = None, np.zeros(shape, self.dtype)
            return
        import h5py

        self._file = h5py.File(self.path, 'w')
        self._file.create_dataset('ids', data=self.ids)
        chunk_rows = max(1, min(len(self.ids), 1024 if kind == 'embedding' else 32))
        self._values = self._file.create_dataset(
            DATASETS[kind], shape=shape, dtype=self.dtype, chunks=(chunk_rows,) + self.row_shape if len(
                self.ids) else None, compression='gzip' if kind == 'patches' else None,
            compression_opts=1 if kind == 'patches' else None)
        self._file.attrs.update(self.attrs)
        self._file.attrs['complete'] = False

    def append(self, values):
        """Write the next rows."""
        values = np.asarray(values)
        if values.shape[1:] != self.row_shape:
            raise ValueError('rows of shape %r, expected %r' % (values.shape[1:], self.row_shape))
        if self.written + len(values) > len(self.ids):
            raise ValueError('more rows than the %d ids' % len(self.ids))
        self._values[self.written:self.written + len(values)] = values.astype(self.dtype, copy=False)
        self.written += len(values)

    def close(self):
        if self.written != len(self.ids):
            self.abort()
            raise ValueError('%d rows written for %d ids' % (self.written, len(self.ids)))
        if self._file is None:
            np.savez(self.path, ids=self.ids, attrs=json.dumps(dict(self.attrs, complete=True)),
                     **{DATASETS[self.kind]: self._values})
        else:
            self._file.attrs['complete'] = True
            self._file.close()

    def abort(self):
        """Close and remove the partial file."""
        if self._file is not None:
            self._file.close()
        if os.path.exists(self.path):
            os.remove(self.path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_features(path, ids, values, kind, **attrs):
    """Write a whole features file (``values`` row ``i`` belongs to ``ids[i]``)."""
    values = np.asarray(values)
    if len(np.ravel(ids)) != len(values):
        raise ValueError('%d ids for %d feature rows' % (len(np.ravel(ids)), len(values)))
    with FeatureWriter(path, ids, values.shape[1:], kind, **attrs) as writer:
        writer.append(values)


def read_features(path):
    """``(ids, values, attrs)`` of a features file; ValueError if it is not one or is incomplete."""
    path = os.fspath(path)
    if path.endswith('.npz'):
        with np.load(path, allow_pickle=False) as data:
            attrs = json.loads(str(data['attrs'])) if 'attrs' in data else {}
            dataset = DATASETS.get(attrs.get('kind'))
            arrays = (data['ids'], data[dataset]) if dataset and dataset in data and 'ids' in data else None
    else:
        import h5py

        with h5py.File(path, 'r') as f:
            attrs = {key: _plain(value) for key, value in f.attrs.items()}
            dataset = DATASETS.get(attrs.get('kind'))
            arrays = (f['ids'][()], f[dataset][()]) if dataset and dataset in f and 'ids' in f else None
    if attrs.get('format') != FORMAT or arrays is None:
        raise ValueError('%s is not a Histomics Label features file' % path)
    if not attrs.get('complete'):
        raise ValueError('%s is incomplete (its extraction did not finish)' % path)
    return arrays[0], arrays[1], attrs


def describe_features(source):
    """``(ids, row_shape, attrs)`` of a features file (a path, or a seekable binary file object of an HDF5
    file) without reading its rows; ValueError if it is not one or is incomplete."""
    if isinstance(source, (str, os.PathLike)) and os.fspath(source).endswith('.npz'):
        ids, values, attrs = read_features(source)
        return ids, values.shape[1:], attrs
    import h5py

    try:
        with h5py.File(source, 'r') as f:
            attrs = {key: _plain(value) for key, value in f.attrs.items()}
            dataset = DATASETS.get(attrs.get('kind'))
            if attrs.get('format') != FORMAT or not dataset or dataset not in f or 'ids' not in f:
                raise ValueError('it is not a Histomics Label features file')
            ids, shape = f['ids'][()], f[dataset].shape
    except OSError as exc:
        raise ValueError('it is not an HDF5 file (%s)' % exc)
    if not attrs.get('complete'):
        raise ValueError('it is incomplete (its extraction did not finish)')
    if ids.ndim != 1 or shape[0] != len(ids):
        raise ValueError('it has %d rows for %d ids' % (shape[0], len(ids)))
    return ids, tuple(shape[1:]), attrs
