"""Square image patches centred on superpixel centroids, read tile by tile, optionally masked.

Patches are cut from regions of about ``block`` x ``block`` output pixels so a slide is read once, not once
per superpixel. Pixels of other superpixels can be replaced by a fill colour using the label image.
"""
import numpy as np

from ..label_image import read_label_image


def _pad_read(reader, x0, y0, x1, y1):
    """Read ``[x0, x1) x [y0, y1)`` (may extend past the image edges: zero-padded)."""
    out = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(reader.width, x1), min(reader.height, y1)
    if cx1 > cx0 and cy1 > cy0:
        out[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = reader.read(cx0, cy0, cx1, cy1)
    return out


def _label_block(label_path, reader, x0, y0, x1, y1):
    """Superpixel index per output pixel of the region (label image in the same pixel grid)."""
    labels = np.full((y1 - y0, x1 - x0), -1, dtype=np.int64)
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(reader.width, x1), min(reader.height, y1)
    if cx1 > cx0 and cy1 > cy0:
        block, _ = read_label_image(label_path, region={'left': cx0, 'top': cy0, 'right': cx1, 'bottom': cy1})
        labels[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = block[:cy1 - cy0, :cx1 - cx0]
    return labels


def iter_patches(reader, centroids, patch_size, label_path=None, fill=(255, 255, 255), block=2048):
    """Yield ``(indices, patches)`` batches: uint8 ``(n, patch_size, patch_size, 3)`` centred on the
    base-slide ``centroids`` (``(N, 2)`` x, y), at the reader's magnification. With ``label_path`` (the
    superpixel label TIFF at the same magnification), pixels outside each superpixel become ``fill``."""
    if patch_size < 4:
        raise ValueError('patch_size must be at least 4 pixels, got %r' % (patch_size,))
    centres = np.floor(np.asarray(centroids, dtype=np.float64) / reader.scale).astype(np.int64)
    half = patch_size // 2
    cells = (centres // block)
    order = np.lexsort((cells[:, 0], cells[:, 1]))
    boundaries = np.flatnonzero(np.any(np.diff(cells[order], axis=0) != 0, axis=1)) + 1
    for group in np.split(order, boundaries):
        x0, y0 = centres[group].min(axis=0) - half
        x1, y1 = centres[group].max(axis=0) - half + patch_size
        region = _pad_read(reader, x0, y0, x1, y1)
        labels = _label_block(label_path, reader, x0, y0, x1, y1) if label_path else None
        patches = np.empty((len(group), patch_size, patch_size, 3), dtype=np.uint8)
        for row, index in enumerate(group):
            px, py = centres[index] - half - (x0, y0)
            patches[row] = region[py:py + patch_size, px:px + patch_size]
            if labels is not None:
                outside = labels[py:py + patch_size, px:px + patch_size] != index
                patches[row][outside] = fill
        yield group, patches
