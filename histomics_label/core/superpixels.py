"""Tiled SLIC superpixels for slides of any size, seamless across tile edges.

Two streaming passes over tiles, each tile read with a halo:

1. **Centres.** Seeds sit on a global grid (step = ``radius`` label-image pixels); a seed belongs to the tile
   whose core contains it. Each tile runs SLIC iterations on a reduced-resolution copy of its core plus halo
   and keeps the final centres (position + mean Lab colour) of the seeds it owns. Every centre is computed by
   exactly one tile, so the global centre list is well defined.
2. **Labels.** Each pixel takes the nearest centre (SLIC distance) among centres within ``radius`` of it, at
   full resolution. That is a pure function of the pixel and the global centre list, so overlapping tiles
   agree exactly and tile edges leave no seams. Connectivity is then enforced the same way everywhere: a
   superpixel keeps the 4-connected piece holding its centre pixel; other pieces (and pixels no centre
   reaches) join the neighbouring superpixel they share most border with. The halo (``5 * radius`` plus the
   smoothing reach) holds every pixel those decisions depend on, so each tile's core comes out as the untiled
   computation would, and every superpixel is one connected region with a unique global id.

Memory is bounded by the tile size; the label TIFF is streamed (see :mod:`.label_image`).
"""
import math
import time

import numpy as np
from skimage import measure

from . import _slic_kernels as kernels
from .label_image import boundary_mask
from .slide_reader import SlideReader
from .superpixel_set import LabelSink

DEFAULT_TILE = 2048


class TissueSampler:
    """Nearest-neighbour lookups into a whole-slide boolean mask of any resolution."""

    def __init__(self, mask, width, height):
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim != 2:
            raise ValueError('tissue mask must be 2-D, got shape %r' % (mask.shape,))
        if not mask.any():
            raise ValueError('the tissue mask is empty: no tissue to segment')
        self.mask, self.width, self.height = mask, width, height

    def region(self, x0, y0, x1, y1, factor=1):
        """Mask for output pixels ``[x0, x1) x [y0, y1)`` of an image reduced by ``factor``."""
        mh, mw = self.mask.shape
        ys = np.minimum(((np.arange(y0, y1) + 0.5) * factor * mh / self.height).astype(np.int64), mh - 1)
        xs = np.minimum(((np.arange(x0, x1) + 0.5) * factor * mw / self.width).astype(np.int64), mw - 1)
        return self.mask[ys[:, None], xs[None, :]]

    def at(self, ys, xs):
        """Mask values at integer label-image pixels."""
        mh, mw = self.mask.shape
        my = np.minimum(((np.asarray(ys) + 0.5) * mh / self.height).astype(np.int64), mh - 1)
        mx = np.minimum(((np.asarray(xs) + 0.5) * mw / self.width).astype(np.int64), mw - 1)
        return self.mask[my, mx]


def _tiles(width, height, size):
    for y0 in range(0, height, size):
        for x0 in range(0, width, size):
            yield x0, y0, min(width, x0 + size), min(height, y0 + size)


def _lab(rgb, sigma):
    lab = kernels.rgb_to_lab(np.ascontiguousarray(rgb), kernels.SRGB_LUT, kernels.CBRT_LUT)
    if sigma and sigma > 0:
        lab = kernels.smooth(lab, kernels.gaussian_kernel(sigma))
    return lab


def _seed_grid(width, height, step):
    """Seed positions (label-image pixel coordinates) at the centres of a ``step`` grid of cells."""
    xs = np.arange(0, width, step, dtype=np.float64)
    ys = np.arange(0, height, step, dtype=np.float64)
    cx = (xs + np.minimum(xs + step, width)) / 2 - 0.5
    cy = (ys + np.minimum(ys + step, height)) / 2 - 0.5
    return cx, cy


def _pass_centres(reader, tissue, radius, factor, compactness, sigma, iterations, tile):
    """Pass 1: SLIC centres, ``(n, 5)`` rows ``(y, x, L, a, b)`` in label-image pixels."""
    width, height = reader.width, reader.height
    lw, lh = -(-width // factor), -(-height // factor)
    step = radius / factor
    window = step
    weight = (compactness / step) ** 2
    halo = int(math.ceil(3 * step)) + 2
    seed_x, seed_y = _seed_grid(width, height, radius)
    # seed positions in reduced-image pixel coordinates
    seed_lx = (seed_x + 0.5) / factor - 0.5
    seed_ly = (seed_y + 0.5) / factor - 0.5
    core = max(256, int(tile // factor))
    if lw * lh <= (core + 2 * halo) ** 2:
        core = max(lw, lh)
    found = []
    for x0, y0, x1, y1 in _tiles(lw, lh, core):
        ex0, ey0 = max(0, x0 - halo), max(0, y0 - halo)
        ex1, ey1 = min(lw, x1 + halo), min(lh, y1 + halo)
        sel_x = np.nonzero((seed_lx >= ex0 - step) & (seed_lx < ex1 + step))[0]
        sel_y = np.nonzero((seed_ly >= ey0 - step) & (seed_ly < ey1 + step))[0]
        if not len(sel_x) or not len(sel_y):
            continue
        gx, gy = np.meshgrid(sel_x, sel_y)
        gx, gy = gx.ravel(), gy.ravel()
        sx, sy = seed_lx[gx], seed_ly[gy]
        inside = (sx >= ex0) & (sx <= ex1 - 1) & (sy >= ey0) & (sy <= ey1 - 1)
        gx, gy, sx, sy = gx[inside], gy[inside], sx[inside], sy[inside]
        owned = (sx >= x0 - 0.5) & (sx < x1 - 0.5) & (sy >= y0 - 0.5) & (sy < y1 - 0.5)
        if not owned.any():
            continue
        rgb = reader.read(ex0, ey0, ex1, ey1, factor=factor)
        lab = _lab(rgb, sigma / factor if sigma / factor >= 0.5 else 0)
        if tissue is not None:
            valid = np.ascontiguousarray(tissue.region(ex0, ey0, ex1, ey1, factor))
        else:
            valid = np.ones(lab.shape[:2], dtype=bool)
        ly = np.clip(np.rint(sy - ey0).astype(np.int64), 0, lab.shape[0] - 1)
        lx = np.clip(np.rint(sx - ex0).astype(np.int64), 0, lab.shape[1] - 1)
        if tissue is not None:
            ly, lx, keep = _tissue_seeds(valid, ly, lx, (sx - ex0, sy - ey0), step)
            gx, gy, owned, sx, sy = gx[keep], gy[keep], owned[keep], sx[keep], sy[keep]
            if not owned.any():
                continue
        centres = np.empty((len(ly), 5), dtype=np.float64)
        centres[:, 0] = ly
        centres[:, 1] = lx
        centres[:, 2:] = lab[ly, lx]
        labels = np.empty(lab.shape[:2], dtype=np.int32)
        dist = np.empty(lab.shape[:2], dtype=np.float64)
        counts = None
        for _ in range(iterations):
            kernels.assign(lab, valid, centres, window, weight, labels, dist)
            counts = kernels.update_centers(lab, labels, centres)
        keep = owned & (counts > 0)
        result = centres[keep].copy()
        result[:, 0] = (result[:, 0] + ey0 + 0.5) * factor - 0.5
        result[:, 1] = (result[:, 1] + ex0 + 0.5) * factor - 0.5
        found.append((result, gy[keep] * len(seed_x) + gx[keep]))
    if not found:
        return np.empty((0, 5))
    # ids follow the raster order of the seed grid, whatever the tiling
    result = np.concatenate([f[0] for f in found])
    return result[np.argsort(np.concatenate([f[1] for f in found]), kind='stable')]


def _tissue_seeds(valid, ly, lx, seed_xy, step):
    """Keep seeds whose grid cell is at least a quarter tissue; move seeds off background onto tissue."""
    h, w = valid.shape
    sx, sy = seed_xy
    half = step / 2
    keep = np.zeros(len(ly), dtype=bool)
    ny, nx = ly.copy(), lx.copy()
    for i in range(len(ly)):
        ya, yb = max(0, int(math.floor(sy[i] - half + 0.5))), min(h, int(math.floor(sy[i] + half + 0.5)) + 1)
        xa, xb = max(0, int(math.floor(sx[i] - half + 0.5))), min(w, int(math.floor(sx[i] + half + 0.5)) + 1)
        cell = valid[ya:yb, xa:xb]
        if cell.size == 0 or cell.mean() < 0.25:
            continue
        if valid[ly[i], lx[i]]:
            keep[i] = True
            continue
        yy, xx = np.nonzero(cell)
        j = np.argmin((yy + ya - sy[i]) ** 2 + (xx + xa - sx[i]) ** 2)
        ny[i], nx[i] = yy[j] + ya, xx[j] + xa
        keep[i] = True
    return ny[keep], nx[keep], keep


def _finalise_centres(centres, width, height, tissue):
    """Round centres to their centre pixels; drop those on background and duplicates (ids stay ordered)."""
    ry = np.clip(np.floor(centres[:, 0] + 0.5).astype(np.int64), 0, height - 1)
    rx = np.clip(np.floor(centres[:, 1] + 0.5).astype(np.int64), 0, width - 1)
    keep = np.ones(len(centres), dtype=bool)
    if tissue is not None and len(centres):
        keep &= tissue.at(ry, rx)
    key = ry * width + rx
    _, first = np.unique(key, return_index=True)
    unique = np.zeros(len(centres), dtype=bool)
    unique[first] = True
    keep &= unique
    return centres[keep], ry[keep], rx[keep]


def _resolve_strays(labels, centre_pixels, rounds=8):
    """Enforce one 4-connected piece per label (see module docstring); returns ``(comp, comp_label)``."""
    comp = measure.label(labels, background=-1, connectivity=1).astype(np.int32)
    ncomp = int(comp.max())
    comp_label = np.full(ncomp + 1, -1, dtype=np.int64)
    comp_label[comp.ravel()] = labels.ravel()
    comp_label[0] = -1
    valid = np.zeros(ncomp + 1, dtype=bool)
    cy, cx = centre_pixels
    if len(cy):
        valid[comp[cy, cx]] = True
    valid[0] = False
    stray = ~valid
    stray[0] = False
    for _ in range(rounds):
        if not stray.any():
            break
        pairs = kernels.border_pairs(comp, stray, valid)
        if not len(pairs):
            break
        target_label = comp_label[pairs[:, 1]]
        # most shared border first, then the smallest label id
        order = np.lexsort((target_label, -pairs[:, 2], pairs[:, 0]))
        pairs, target_label = pairs[order], target_label[order]
        first = np.ones(len(pairs), dtype=bool)
        first[1:] = pairs[1:, 0] != pairs[:-1, 0]
        chosen, chosen_label = pairs[first, 0], target_label[first]
        comp_label[chosen] = chosen_label
        stray[chosen] = False
        valid[chosen] = True
    comp_label[stray] = -1
    return comp, comp_label


def _pass_labels(reader, tissue, centres, centre_py, centre_px, radius, compactness, sigma, tile, sink,
                 progress=None, timers=None):
    """Pass 2: full-resolution labels, connectivity, encoding and statistics, tile by tile."""
    timers = {} if timers is None else timers
    clock = [time.time()]

    def lap(name):
        now = time.time()
        timers[name] = timers.get(name, 0.0) + now - clock[0]
        clock[0] = now
    width, height = reader.width, reader.height
    window = float(radius)
    weight = (compactness / radius) ** 2
    smooth_reach = len(kernels.gaussian_kernel(sigma)) // 2 if sigma else 0
    halo = int(math.ceil(4 * window + radius)) + smooth_reach + 4
    ids = np.arange(len(centres))
    if width * height <= (tile + 2 * halo) ** 2:
        # the whole image costs no more memory than one haloed tile: do it in one piece
        tile = int(math.ceil(max(width, height) / 256.0)) * 256
    tiles = list(_tiles(width, height, tile))
    for index, (x0, y0, x1, y1) in enumerate(tiles):
        ex0, ey0 = max(0, x0 - halo), max(0, y0 - halo)
        ex1, ey1 = min(width, x1 + halo), min(height, y1 + halo)
        sel = ((centres[:, 0] >= ey0 - window - 1) & (centres[:, 0] <= ey1 + window) &
               (centres[:, 1] >= ex0 - window - 1) & (centres[:, 1] <= ex1 + window))
        local = np.ascontiguousarray(centres[sel])
        local[:, 0] -= ey0
        local[:, 1] -= ex0
        local_ids = ids[sel]
        lap('other')
        rgb = reader.read(ex0, ey0, ex1, ey1)
        lap('read')
        lab = _lab(rgb, sigma)
        del rgb
        lap('lab')
        if tissue is not None:
            valid = np.ascontiguousarray(tissue.region(ex0, ey0, ex1, ey1))
        else:
            valid = np.ones(lab.shape[:2], dtype=bool)
        labels = np.empty(lab.shape[:2], dtype=np.int32)
        dist = np.empty(lab.shape[:2], dtype=np.float32)
        kernels.assign(lab, valid, local, window, weight, labels, dist)
        del dist, lab
        lap('assign')
        if len(local_ids):
            mapped = np.where(labels >= 0, local_ids[np.maximum(labels, 0)], labels).astype(np.int32)
        else:
            mapped = labels
        del labels
        py, px = centre_py[sel] - ey0, centre_px[sel] - ex0
        inside = (py >= 0) & (py < ey1 - ey0) & (px >= 0) & (px < ex1 - ex0)
        py, px = py[inside], px[inside]
        mapped[py, px] = local_ids[inside]
        comp, comp_label = _resolve_strays(mapped, (py, px))
        del mapped
        lap('connectivity')
        # final labels of the core plus a one-pixel ring (for boundary flags at the core edge)
        cy0, cx0 = max(0, y0 - 1), max(0, x0 - 1)
        cy1, cx1 = min(height, y1 + 1), min(width, x1 + 1)
        final = comp_label[comp[cy0 - ey0:cy1 - ey0, cx0 - ex0:cx1 - ex0]].astype(np.int32)
        sink.add_with_context(x0, y0, final, (y0 - cy0, x0 - cx0, cy1 - y1, cx1 - x1))
        lap('write')
        if progress:
            progress('labels', index + 1, len(tiles))


def compute_superpixels(source, output_path=None, magnification=None, radius=100, compactness=10.0,
                        sigma=1.0, tissue_mask=None, tile_size=DEFAULT_TILE, iterations=10,
                        native_magnification=None, keep_labels=False, reduce=None, progress=None):
    """Tiled SLIC superpixels of a slide.

    :param source: slide path, large_image tile source, or RGB uint8 array.
    :param output_path: where to write the pixelmap label TIFF (``None``: do not write).
    :param magnification: magnification to segment at (``None``: native); above native raises ValueError.
    :param radius: approximate superpixel size in label-image pixels (seed spacing; mean area ~radius^2).
    :param compactness: SLIC compactness (Lab units); higher gives more regular shapes.
    :param sigma: Gaussian smoothing in label-image pixels before clustering.
    :param tissue_mask: optional 2-D bool array over the whole slide (any resolution); only tissue gets
        superpixels, background is label ``-1`` (encoded as the pixelmap background value).
    :param tile_size: tile core size in label-image pixels (rounded up to a multiple of 256).
    :param reduce: resolution reduction for the centre pass (power of two; default from ``radius``).
    :param keep_labels: also return the whole label array (small images only).
    :returns: a :class:`~.superpixel_set.SuperpixelSet`.
    """
    start = time.time()
    if radius is None or radius < 2:
        raise ValueError('radius must be at least 2 pixels, got %r' % (radius,))
    if compactness <= 0:
        raise ValueError('compactness must be positive, got %r' % (compactness,))
    reader = source if isinstance(source, SlideReader) else SlideReader(
        source, magnification=magnification, native_magnification=native_magnification)
    width, height = reader.width, reader.height
    tissue = TissueSampler(tissue_mask, width, height) if tissue_mask is not None else None
    tile = max(256, int(math.ceil(tile_size / 256.0)) * 256)
    if reduce is None:
        reduce = 2 ** max(0, int(math.floor(math.log2(radius / 16.0)))) if radius >= 32 else 1
    reduce = max(1, int(reduce))
    centres = _pass_centres(reader, tissue, radius, reduce, compactness, sigma, iterations, tile)
    centres, cpy, cpx = _finalise_centres(centres, width, height, tissue)
    if not len(centres):
        raise ValueError('no superpixels: the image has no tissue large enough for radius %g' % radius)
    t_centres = time.time() - start
    sink = LabelSink(
        len(centres), width, height, reader.scale, (reader.base_width, reader.base_height),
        output_path=output_path, magnification=reader.magnification, mm_per_pixel=reader.mm_per_pixel,
        keep_labels=keep_labels,
        description={'method': 'tiled-slic', 'radius': radius, 'compactness': compactness, 'sigma': sigma,
                     'tileSize': tile})
    timers = {'centres': t_centres}
    _pass_labels(reader, tissue, centres, cpy, cpx, radius, compactness, sigma, tile, sink, progress, timers)
    t_finish = time.time()
    result = sink.finish(info={'method': 'tiled-slic', 'radius': radius, 'compactness': compactness,
                               'sigma': sigma, 'tile_size': tile, 'reduce': reduce, 'timers': timers})
    timers['finish'] = time.time() - t_finish
    result.info['seconds'] = time.time() - start
    return result


def seam_share(labels, tile_size):
    """Share of superpixel-boundary pixels that lie on tile-edge lines (the pixel rows/columns on either side
    of every multiple of ``tile_size``). Returns ``(share, line_pixel_share)``; the second number is the
    share of all pixels on those lines, i.e. what a boundary-agnostic tiling would give."""
    labels = np.asarray(labels)
    h, w = labels.shape
    bnd = boundary_mask(labels) & (labels >= 0)
    on_line = np.zeros((h, w), dtype=bool)
    for k in range(tile_size, max(h, w), tile_size):
        if k < h:
            on_line[k - 1:k + 1, :] = True
        if k < w:
            on_line[:, k - 1:k + 1] = True
    total = int(bnd.sum())
    share = float((bnd & on_line).sum()) / total if total else 0.0
    return share, float(on_line.mean())
