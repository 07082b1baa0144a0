"""A folder of labeled H&E images as mosaic "slides" with a true class for every pixel and superpixel.

Layout (e.g. ``../shared/data/ebhi_seg``)::

    FOLDER/<class>/image/<name>.jpg      (or .png, .tif, ...)
    FOLDER/<class>/mask/<name>.png       white (> 127) = tissue of <class>; black = "other tissue"

Categories are ``other tissue`` followed by the class folders (sub-folders holding an ``image`` folder) sorted
by name. An image's case id is its file name up to the first ``-``, compared case-insensitively; the train
pool and the test set are split by case, never by image. Every choice here is a function of the file names
only (orders come from SHA-1 hashes of names, not from listings), so a folder always gives the same split,
images and mosaics.
"""
import hashlib
import math
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

OTHER = 'other tissue'
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp')


@dataclass(frozen=True)
class Sample:
    label: int  # category index of the mask's white pixels (0 is OTHER)
    case: str
    image: str
    mask: str


def _key(text):
    return hashlib.sha1(os.path.basename(text).encode()).hexdigest()


def case_id(filename):
    """The case of an image: its file name up to the first ``-``, lower-cased."""
    return os.path.basename(filename).split('-', 1)[0].lower()


def scan(folder):
    """``(categories, samples)`` of a folder in the layout above.

    :raises ValueError: not a folder, no ``<class>/image`` folders, no images, or an image without a mask.
    """
    if not os.path.isdir(folder):
        raise ValueError('%s is not a folder' % folder)
    classes = sorted(name for name in os.listdir(folder) if os.path.isdir(os.path.join(folder, name, 'image')))
    if not classes:
        raise ValueError('%s has no <class>/image folders' % folder)
    samples, missing = [], []
    for label, name in enumerate(classes, 1):
        image_dir, mask_dir = os.path.join(folder, name, 'image'), os.path.join(folder, name, 'mask')
        masks = {os.path.splitext(f)[0]: f for f in os.listdir(mask_dir)} if os.path.isdir(mask_dir) else {}
        for filename in sorted(os.listdir(image_dir)):
            stem, ext = os.path.splitext(filename)
            if ext.lower() not in IMAGE_EXTENSIONS:
                continue
            if stem not in masks:
                missing.append(os.path.join(name, 'image', filename))
                continue
            samples.append(Sample(label, case_id(filename), os.path.join(image_dir, filename),
                                  os.path.join(mask_dir, masks[stem])))
    if missing:
        raise ValueError('%d images have no mask of the same name in <class>/mask, e.g. %s'
                         % (len(missing), missing[0]))
    if not samples:
        raise ValueError('%s holds no images' % folder)
    return [OTHER] + classes, samples


def split_cases(samples, test_fraction=1 / 3):
    """The set of test case ids.

    Classes are visited rarest first; each takes its unassigned cases in hash order into the test set until
    about ``test_fraction`` of its images are test images, keeping at least one case in the pool, and leaves
    the rest in the pool. A case holding several classes is placed by the rarest.
    """
    if not 0 < test_fraction < 1:
        raise ValueError('test_fraction must be in (0, 1), got %r' % (test_fraction,))
    if len({s.case for s in samples}) < 2:
        raise ValueError('need images of at least two cases to split pool and test by case')
    per_class = {}
    for s in samples:
        counts = per_class.setdefault(s.label, {})
        counts[s.case] = counts.get(s.case, 0) + 1
    side = {}
    for label in sorted(per_class, key=lambda lab: (sum(per_class[lab].values()), lab)):
        counts = per_class[label]
        target = test_fraction * sum(counts.values())
        for case in sorted(counts, key=_key):
            if case in side:
                continue
            in_test = sum(n for c, n in counts.items() if side.get(c) == 'test')
            pool_left = any(side.get(c) != 'test' for c in counts if c != case)
            side[case] = 'test' if in_test < target and pool_left else 'pool'
    return {case for case, where in side.items() if where == 'test'}


def allocate(total, available, floor=2):
    """Images per class: at least ``min(floor, available)``, the rest in proportion to ``available``
    (a dict class -> count), never more than available."""
    quota = {k: min(floor, n) for k, n in available.items()}
    grand = sum(available.values())
    for _ in range(max(0, total - sum(quota.values()))):
        room = [k for k in sorted(available) if quota[k] < available[k]]
        if not room:
            break
        best = max(room, key=lambda k: (total * available[k] / grand - quota[k], -k))
        quota[best] += 1
    return quota


def choose(samples, test_cases, pool_images, test_images, floor=2):
    """``(pool, test)`` samples: per side, :func:`allocate` per class, each class's images taken round robin
    over its cases (cases and images in hash order), so that many cases contribute."""
    chosen = {}
    for side, total in (('pool', pool_images), ('test', test_images)):
        by_class = {}
        for s in samples:
            if (s.case in test_cases) == (side == 'test'):
                by_class.setdefault(s.label, []).append(s)
        quota = allocate(total, {k: len(v) for k, v in by_class.items()}, floor)
        picked = []
        for label in sorted(by_class):
            by_case = {}
            for s in sorted(by_class[label], key=lambda s: _key(s.image)):
                by_case.setdefault(s.case, []).append(s)
            queues = [by_case[c] for c in sorted(by_case, key=_key)]
            taken = []
            while len(taken) < quota[label]:
                for queue in queues:
                    if queue and len(taken) < quota[label]:
                        taken.append(queue.pop(0))
            picked += taken
        chosen[side] = picked
    return chosen['pool'], chosen['test']


def load_pair(sample, cell):
    """``(rgb uint8, truth int8, resized)`` of one image, resized to ``cell`` x ``cell`` if it is not (bilinear
    image, nearest mask); truth is the sample's label where the mask is white, 0 (other tissue) elsewhere."""
    with Image.open(sample.image) as image, Image.open(sample.mask) as mask:
        rgb, gray = image.convert('RGB'), mask.convert('L')
        if rgb.size != gray.size:
            raise ValueError('%s is %dx%d but its mask is %dx%d' % ((sample.image,) + rgb.size + gray.size))
        resized = rgb.size != (cell, cell)
        if resized:
            rgb, gray = rgb.resize((cell, cell), Image.BILINEAR), gray.resize((cell, cell), Image.NEAREST)
        truth = np.where(np.asarray(gray) > 127, sample.label, 0).astype(np.int8)
        return np.asarray(rgb, dtype=np.uint8), truth, resized


def layout(samples, side):
    """``samples`` (in hash order) in groups of up to ``side`` x ``side``: the cells of each mosaic."""
    order = sorted(samples, key=lambda s: _key(s.image))
    per = side * side
    return [order[start:start + per] for start in range(0, len(order), per)]


def build(cells, side, cell=224):
    """``(rgb, truth, resized)`` of one mosaic: ``cells`` in raster order, ``side`` per row (a last, partly
    filled mosaic is laid out near-square); truth is the category per pixel, -1 in empty cells; ``resized``
    counts images that were not ``cell`` x ``cell``."""
    cols = min(side, math.ceil(math.sqrt(len(cells))))
    rows = math.ceil(len(cells) / cols)
    rgb = np.full((rows * cell, cols * cell, 3), 255, dtype=np.uint8)
    truth = np.full((rows * cell, cols * cell), -1, dtype=np.int8)
    resized = 0
    for index, sample in enumerate(cells):
        y, x = divmod(index, cols)
        image, labels, was_resized = load_pair(sample, cell)
        rgb[y * cell:(y + 1) * cell, x * cell:(x + 1) * cell] = image
        truth[y * cell:(y + 1) * cell, x * cell:(x + 1) * cell] = labels
        resized += was_resized
    return rgb, truth, resized


def superpixel_truth(labels, truth, count, n_categories):
    """``(majority, purity)`` per superpixel ``0..count-1`` of a label image: the category most of its pixels
    have (-1 when most lie in empty cells) and the share of its pixels that have it."""
    labels, truth = np.asarray(labels), np.asarray(truth)
    inside = labels >= 0
    width = n_categories + 1  # column 0: empty cell
    counts = np.bincount(labels[inside].astype(np.int64) * width + truth[inside].astype(np.int64) + 1,
                         minlength=count * width).reshape(count, width)
    total = counts.sum(axis=1)
    majority = counts.argmax(axis=1) - 1
    purity = counts.max(axis=1) / np.maximum(total, 1)
    majority[total == 0] = -1
    return majority, purity
