"""Read RGB regions of a slide (or an in-memory image) at a chosen magnification.

Regions are addressed in pixels of the output magnification. Reading is deterministic per pixel: a pixel's
value does not depend on the region it is read with (needed for seamless tiling). The slide is read at the
nearest power-of-two level at or above the target, and any remaining non-integer factor is applied by area
averaging over blocks whose edges are fixed on the global pixel grid.
"""
import math

import numpy as np


def _resolve_scale(native_magnification, magnification):
    if magnification is None or native_magnification is None:
        return 1.0, native_magnification
    magnification = float(magnification)
    if magnification <= 0:
        raise ValueError('magnification must be positive, got %r' % magnification)
    if magnification > float(native_magnification) * (1 + 1e-6):
        raise ValueError('requested magnification %gx is above the slide\'s native %gx' % (
            magnification, native_magnification))
    return float(native_magnification) / magnification, magnification


def _area_axis(data, axis, start, stop, factor, limit):
    """Average ``data`` (covering source pixels ``[start, ...)``) into output pixels ``[start..stop)``."""
    edges = np.floor(np.arange(start, stop + 1) * factor).astype(np.int64)
    edges = np.minimum(edges, limit)
    local = edges - edges[0]
    counts = np.maximum(np.diff(local), 1)
    sums = np.add.reduceat(data.astype(np.float32), np.minimum(local[:-1], data.shape[axis] - 1), axis=axis)
    shape = [1] * data.ndim
    shape[axis] = -1
    return sums / counts.reshape(shape)


class SlideReader:
    """Region reader over a large_image source, a path, or an RGB numpy array.

    :param source: path, large_image tile source, or ``(h, w, 3|4)`` uint8 array.
    :param magnification: output magnification (``None`` = native).
    :param native_magnification: for arrays, their magnification (default 20 when a magnification is asked).
    """

    def __init__(self, source, magnification=None, native_magnification=None):
        self.array = None
        self.source = None
        if isinstance(source, np.ndarray):
            if source.ndim != 3 or source.shape[2] < 3:
                raise ValueError('image array must be (height, width, 3 or 4), got %r' % (source.shape,))
            self.array = source
            base_w, base_h = source.shape[1], source.shape[0]
            if native_magnification is None and magnification is not None:
                native_magnification = 20.0
            self.mm_x = None
        else:
            import large_image

            self.source = large_image.open(str(source)) if isinstance(source, (str, bytes)) or hasattr(
                source, '__fspath__') else source
            meta = self.source.getMetadata()
            base_w, base_h = meta['sizeX'], meta['sizeY']
            if native_magnification is None:
                native_magnification = meta.get('magnification')
            if magnification is not None and not native_magnification:
                raise ValueError('the slide has no magnification metadata; pass native_magnification')
            self.mm_x = meta.get('mm_x')
        self.native_magnification = native_magnification
        self.scale, self.magnification = _resolve_scale(native_magnification, magnification)
        self.base_width, self.base_height = base_w, base_h
        self.width = max(1, int(base_w / self.scale + 1e-9))
        self.height = max(1, int(base_h / self.scale + 1e-9))

    @property
    def mm_per_pixel(self):
        return self.mm_x * self.scale if self.mm_x else None

    def _read_base(self, left, top, right, bottom, level_factor):
        """RGB uint8 of base pixels ``[left, right) x [top, bottom)`` downsampled by ``level_factor`` (2^k)."""
        if self.array is not None:
            data = self.array[top:bottom, left:right, :3]
            if level_factor > 1:
                data = data[::level_factor, ::level_factor]
            return np.ascontiguousarray(data)
        import large_image

        kwargs = dict(format=large_image.constants.TILE_FORMAT_NUMPY)
        if level_factor > 1:
            kwargs['scale'] = {'magnification': self.native_magnification / level_factor}
            kwargs['region'] = dict(left=left // level_factor, top=top // level_factor,
                                    right=-(-right // level_factor), bottom=-(-bottom // level_factor),
                                    units='mag_pixels')
        else:
            kwargs['region'] = dict(left=left, top=top, right=right, bottom=bottom)
        data, _ = self.source.getRegion(**kwargs)
        if data.ndim == 2:
            data = data[:, :, None]
        if data.shape[2] < 3:
            data = np.repeat(data[:, :, :1], 3, axis=2)
        if data.dtype != np.uint8:
            data = np.clip(data, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(data[:, :, :3])

    def read(self, x0, y0, x1, y1, factor=1):
        """RGB uint8 for output pixels ``[x0, x1) x [y0, y1)`` clipped to the image; ``factor`` reduces further.

        With ``factor > 1`` the coordinates are in pixels of the reduced image (size ``ceil(size / factor)``).
        """
        scale = self.scale * factor
        width = -(-self.width // factor) if factor > 1 else self.width
        height = -(-self.height // factor) if factor > 1 else self.height
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(width, int(x1)), min(height, int(y1))
        if x1 <= x0 or y1 <= y0:
            return np.zeros((max(0, y1 - y0), max(0, x1 - x0), 3), dtype=np.uint8)
        if scale == 1:
            return self._read_base(x0, y0, x1, y1, 1)
        level_factor = 2 ** int(math.floor(math.log2(scale) + 1e-9)) if scale >= 2 else 1
        if self.array is not None:
            level_factor = 1
        residual = scale / level_factor
        # Source pixels at the read level covering the output region.
        sx0 = int(math.floor(x0 * residual))
        sy0 = int(math.floor(y0 * residual))
        limit_x = int(self.base_width // level_factor)
        limit_y = int(self.base_height // level_factor)
        sx1 = min(limit_x, int(math.ceil(x1 * residual)))
        sy1 = min(limit_y, int(math.ceil(y1 * residual)))
        data = self._read_base(sx0 * level_factor, sy0 * level_factor, sx1 * level_factor,
                               sy1 * level_factor, level_factor)
        data = data[:sy1 - sy0, :sx1 - sx0]
        if abs(residual - 1) < 1e-9:
            out = data
        else:
            out = _area_axis(data, 0, y0, y1, residual, sy1)
            out = _area_axis(out, 1, x0, x1, residual, sx1)
            out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        out = out[:y1 - y0, :x1 - x0]
        if out.shape[0] != y1 - y0 or out.shape[1] != x1 - x0:
            padded = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.uint8)
            padded[:out.shape[0], :out.shape[1]] = out
            out = padded
        return out
