"""Model files: one ``.npz`` archive with the weights as arrays and the metadata as JSON (no pickle)."""
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = 'histomics-label-classifier'
FORMAT_VERSION = 1
METADATA_KEY = '__metadata__'


def write(path, metadata, arrays):
    """Write atomically (temporary file, then rename) so a reader never sees a half-written model.

    Returns the metadata as stored (format keys added, JSON types).
    """
    text = json.dumps({'format': FORMAT, 'format_version': FORMAT_VERSION, **metadata}, sort_keys=True,
                      default=_plain)
    handle, tmp = tempfile.mkstemp(prefix='.model-', dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(handle, 'wb') as fh:
            np.savez(fh, **{METADATA_KEY: np.array(text)}, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return json.loads(text)


def _plain(value):
    """JSON fallback for numpy scalars and arrays in parameters."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError('%r is not JSON serialisable' % (value,))


def read_metadata(path):
    """Only the metadata of a model file."""
    return read(path, arrays=False)[0]


def read(path, arrays=True):
    """Return ``(metadata, arrays)`` of a model file; ValueError if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            metadata = json.loads(str(data[METADATA_KEY]))
            values = {key: data[key] for key in data.files if key != METADATA_KEY} if arrays else {}
    except (OSError, KeyError, ValueError, TypeError, AttributeError, zipfile.BadZipFile) as exc:
        raise ValueError('%s is not a readable model file: %s' % (path, exc)) from exc
    if metadata.get('format') != FORMAT or metadata.get('format_version') != FORMAT_VERSION:
        raise ValueError('%s is not a version %d %s file' % (path, FORMAT_VERSION, FORMAT))
    return metadata, values
