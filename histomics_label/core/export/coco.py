"""COCO instance annotations (one JSON for the project), written annotation by annotation.

Each superpixel with an effective label is one annotation: its outline as polygons (a polygon with holes
becomes one ring with zero-width bridges to its holes, :func:`.outlines.keyhole`, so pycocotools' even-odd
filling leaves the holes out), its box and its area in base-slide pixels.
"""
import json

from .geojson import DIGITS
from .outlines import keyhole


class CocoWriter:
    """``images`` and ``categories`` are known up front; annotations stream in with :meth:`annotation`."""

    def __init__(self, path, info, images, categories):
        self.file = open(path, 'w')
        head = {'info': info, 'licenses': [], 'images': images, 'categories': categories}
        self.file.write(json.dumps(head, default=str)[:-1] + ',"annotations":[')
        self.count = 0

    def annotation(self, image_id, category_id, polygons, area, **extra):
        """Write one annotation; returns its id (from 1)."""
        segmentation = [keyhole(polygon)[:-1].round(DIGITS).ravel().tolist() for polygon in polygons]
        xs = [v for ring in segmentation for v in ring[0::2]]
        ys = [v for ring in segmentation for v in ring[1::2]]
        self.count += 1
        record = dict({'id': self.count, 'image_id': image_id, 'category_id': category_id,
                       'segmentation': segmentation, 'area': area, 'iscrowd': 0,
                       'bbox': [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]}, **extra)
        self.file.write((',' if self.count > 1 else '') + json.dumps(record, separators=(',', ':'), default=str))
        return self.count

    def close(self):
        if not self.file.closed:
            self.file.write(']}')
            self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
