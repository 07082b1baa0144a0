"""Superpixel label images in the HistomicsUI ``pixelmap`` convention.

A pixelmap image is 8-bit RGB; the index of a pixel is ``R + 256 * G + 65536 * B`` (geojs reads it as
0xBBGGRR and ignores alpha). With ``boundaries: true`` superpixel ``i`` (0-based) is drawn with index ``2i``
in its interior and ``2i + 1`` on its boundary. Pixels that belong to no superpixel (background) carry
``BACKGROUND`` (0xFFFFFF): an index past the end of the element's ``values`` array, which geojs draws
transparent. Internally, label arrays hold the superpixel index, or ``-1`` for no superpixel.

:class:`LabelTiffWriter` writes a tiled, pyramidal BigTIFF that large_image opens with its tiff source. Blocks
arrive in any order; each is cut into compressed 256x256 tiles kept in a temporary file, and the TIFF is
assembled from that file at the end, so memory stays bounded by a block whatever the image size.
"""
import json
import os
import tempfile
import zlib

import numpy as np

BACKGROUND = 0xFFFFFF
MAX_SUPERPIXELS = BACKGROUND // 2
TILE = 256


def encode_labels(labels, boundary=None, background=BACKGROUND):
    """Encode superpixel indices (``-1`` = none) as pixelmap RGB uint8.

    :param boundary: optional bool array; True marks boundary pixels (value ``2i + 1``).
    """
    labels = np.asarray(labels)
    value = labels.astype(np.int64) * 2
    if boundary is not None:
        value += np.asarray(boundary, dtype=bool)
    value[labels < 0] = background
    return value_to_rgb(value)


def value_to_rgb(value):
    """Split integer pixel values into the R, G, B bytes of the pixelmap encoding."""
    value = np.asarray(value, dtype=np.uint32)
    out = np.empty(value.shape + (3,), dtype=np.uint8)
    out[..., 0] = value & 0xFF
    out[..., 1] = (value >> 8) & 0xFF
    out[..., 2] = (value >> 16) & 0xFF
    return out


def rgb_to_value(rgb):
    """Inverse of :func:`value_to_rgb`; extra channels (alpha) are ignored."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise ValueError('a pixelmap image needs at least 3 channels, got shape %r' % (rgb.shape,))
    rgb = rgb[..., :3].astype(np.int64)
    return rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16)


def decode_labels(rgb, background=BACKGROUND):
    """Decode pixelmap RGB to ``(labels, boundary)``; labels are ``-1`` where there is no superpixel."""
    value = rgb_to_value(rgb)
    none = value == background
    labels = np.where(none, -1, value // 2)
    boundary = (value % 2 == 1) & ~none
    return labels, boundary


def boundary_mask(labels):
    """True where a 4-neighbour has a different label (both sides of each edge are marked).

    Pixels on the array border are compared only with neighbours inside the array.
    """
    labels = np.asarray(labels)
    out = np.zeros(labels.shape, dtype=bool)
    dy = labels[1:, :] != labels[:-1, :]
    dx = labels[:, 1:] != labels[:, :-1]
    out[1:, :] |= dy
    out[:-1, :] |= dy
    out[:, 1:] |= dx
    out[:, :-1] |= dx
    return out


class LabelTiffWriter:
    """Stream a pyramidal, tiled, deflate-compressed RGB pixelmap TIFF.

    Call :meth:`add_block` with encoded RGB blocks whose origin is a multiple of 256 and whose size is a
    multiple of 256 (except at the right/bottom image edge), in any order, covering the image; then
    :meth:`close`. Reduced levels are nearest-neighbour subsamples (every other pixel), so they keep exact
    label values.
    """

    def __init__(self, path, width, height, description=None, mm_per_pixel=None, background=BACKGROUND,
                 compress_level=1, tmpdir=None):
        if width < 1 or height < 1:
            raise ValueError('label image size must be positive, got %dx%d' % (width, height))
        self.path = str(path)
        self.width, self.height = int(width), int(height)
        self.description = description
        self.mm_per_pixel = mm_per_pixel
        self.compress_level = compress_level
        self.sizes = [(self.width, self.height)]
        while self.sizes[-1][0] > TILE or self.sizes[-1][1] > TILE:
            w, h = self.sizes[-1]
            self.sizes.append(((w + 1) // 2, (h + 1) // 2))
        self._fill = value_to_rgb(np.full((TILE, TILE), background, dtype=np.uint32))
        self._tmp = tempfile.TemporaryFile(dir=tmpdir)
        self._index = {}
        self._closed = False

    def _store(self, level, tx, ty, tile):
        if tile.shape[:2] != (TILE, TILE):
            full = self._fill.copy()
            full[:tile.shape[0], :tile.shape[1]] = tile
            tile = full
        data = zlib.compress(np.ascontiguousarray(tile).tobytes(), self.compress_level)
        self._tmp.seek(0, os.SEEK_END)
        self._index[(level, tx, ty)] = (self._tmp.tell(), len(data))
        self._tmp.write(data)

    def _raw(self, level, tx, ty):
        offset, length = self._index[(level, tx, ty)]
        self._tmp.seek(offset)
        return self._tmp.read(length)

    def _load(self, level, tx, ty):
        return zlib.decompress(self._raw(level, tx, ty))

    def add_block(self, x0, y0, rgb):
        """Add an encoded RGB block (``(h, w, 3)`` uint8) at pixel ``(x0, y0)`` of the full-resolution level."""
        rgb = np.asarray(rgb, dtype=np.uint8)
        h, w = rgb.shape[:2]
        if x0 % TILE or y0 % TILE:
            raise ValueError('blocks must start on a multiple of %d, got (%d, %d)' % (TILE, x0, y0))
        if (w % TILE and x0 + w != self.width) or (h % TILE and y0 + h != self.height):
            raise ValueError('blocks must be a multiple of %d in size except at the image edge' % TILE)
        level, step = 0, 1
        # Store every level whose tiles this block covers completely.
        while level < len(self.sizes):
            span = TILE * step
            if level and ((x0 % span) or (y0 % span) or (w % span and x0 + w != self.width) or
                          (h % span and y0 + h != self.height)):
                break
            sub = rgb[::step, ::step] if step > 1 else rgb
            for ty in range(0, sub.shape[0], TILE):
                for tx in range(0, sub.shape[1], TILE):
                    self._store(level, (x0 // step + tx) // TILE, (y0 // step + ty) // TILE,
                                sub[ty:ty + TILE, tx:tx + TILE])
            level, step = level + 1, step * 2

    def _complete_levels(self):
        for level in range(1, len(self.sizes)):
            w, h = self.sizes[level]
            pw, ph = self.sizes[level - 1]
            for ty in range((h + TILE - 1) // TILE):
                for tx in range((w + TILE - 1) // TILE):
                    if (level, tx, ty) in self._index:
                        continue
                    mosaic = np.empty((2 * TILE, 2 * TILE, 3), dtype=np.uint8)
                    mosaic[:] = self._fill[0, 0]
                    for dy in range(2):
                        for dx in range(2):
                            px, py = 2 * tx + dx, 2 * ty + dy
                            if px * TILE < pw and py * TILE < ph:
                                mosaic[dy * TILE:(dy + 1) * TILE, dx * TILE:(dx + 1) * TILE] = np.frombuffer(
                                    self._load(level - 1, px, py), dtype=np.uint8).reshape(TILE, TILE, 3)
                    self._store(level, tx, ty, mosaic[::2, ::2])

    def _tiles(self, level):
        w, h = self.sizes[level]
        for ty in range((h + TILE - 1) // TILE):
            for tx in range((w + TILE - 1) // TILE):
                yield self._raw(level, tx, ty)

    def close(self):
        """Assemble the TIFF file; raises if some full-resolution tile was never added."""
        import tifffile

        if self._closed:
            return
        w, h = self.sizes[0]
        missing = [(tx, ty) for ty in range((h + TILE - 1) // TILE) for tx in range((w + TILE - 1) // TILE)
                   if (0, tx, ty) not in self._index]
        if missing:
            raise ValueError('label image incomplete: %d tile(s) never written, e.g. %r' % (
                len(missing), missing[0]))
        self._complete_levels()
        resolution = None
        if self.mm_per_pixel:
            resolution = (10.0 / self.mm_per_pixel, 10.0 / self.mm_per_pixel)
        with tifffile.TiffWriter(self.path, bigtiff=True) as tif:
            for level, (lw, lh) in enumerate(self.sizes):
                scale = 2 ** level
                tif.write(
                    self._tiles(level), shape=(lh, lw, 3), dtype=np.uint8, tile=(TILE, TILE),
                    photometric='rgb', planarconfig='contig', compression='zlib',
                    subfiletype=1 if level else 0,
                    description=self.description if level == 0 else None, metadata=None,
                    resolution=(resolution[0] / scale, resolution[1] / scale) if resolution else None,
                    resolutionunit='CENTIMETER' if resolution else None)
        self._tmp.close()
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self._tmp.close()
            self._closed = True


def write_label_tiff(path, labels, boundaries=True, description=None, mm_per_pixel=None, block=2048):
    """Write a whole in-memory label array (``-1`` = none) as a pixelmap TIFF."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError('labels must be 2-D, got shape %r' % (labels.shape,))
    if labels.size and labels.max() >= MAX_SUPERPIXELS:
        raise ValueError('at most %d superpixels fit in a 24-bit pixelmap' % MAX_SUPERPIXELS)
    bnd = boundary_mask(labels) if boundaries else None
    h, w = labels.shape
    with LabelTiffWriter(path, w, h, description=description, mm_per_pixel=mm_per_pixel) as writer:
        for y in range(0, h, block):
            for x in range(0, w, block):
                sub = labels[y:y + block, x:x + block]
                writer.add_block(x, y, encode_labels(
                    sub, None if bnd is None else bnd[y:y + block, x:x + block]))
    return path


def read_label_image(path, region=None):
    """Read a pixelmap TIFF with large_image; returns ``(labels, boundary)`` at full resolution.

    :param region: optional ``dict(left, top, right, bottom)`` in label-image pixels.
    """
    import large_image

    source = large_image.open(str(path))
    kwargs = {'format': large_image.constants.TILE_FORMAT_NUMPY}
    if region:
        kwargs['region'] = dict(region)
    rgb, _ = source.getRegion(**kwargs)
    return decode_labels(rgb)


def label_tiff_description(path):
    """The JSON metadata stored in a pixelmap TIFF's ImageDescription, or ``{}``."""
    import tifffile

    with tifffile.TiffFile(str(path)) as tif:
        text = tif.pages[0].description
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return {}
