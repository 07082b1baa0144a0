"""Geometry of a slide's superpixels: count, centroids and bounding boxes (base-slide pixels).

Stored as compact float32 arrays in one document per slide (a 500k-superpixel slide needs ~12 MB);
cached in memory by document id and version because label writes look centroids up.
"""
import functools

import numpy as np
from bson.binary import Binary
from girder.exceptions import ValidationException
from girder.models.model_base import Model

from .slide import ProjectSlide
from .states import StageStatus


def check_superpixel(value, count, field):
    """``value`` if it is a superpixel id of a slide with ``count`` superpixels; 400 naming ``field`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise ValidationException('Superpixel %r does not exist on this slide (0-%d).' % (value, count - 1), field)
    return value


class SuperpixelGeometry(Model):
    def initialize(self):
        self.name = 'histomics_label_superpixels'
        self.ensureIndices([('slideId', {'unique': True})])

    def validate(self, doc):
        return doc

    def store(self, slide, centroids, bboxes, **segmentation):
        """Record the slide's superpixels and its segmentation as done; returns the updated slide (with
        ``superpixelCount``). 400 (nothing written) when the segmentation is done already."""
        centroids = np.asarray(centroids, dtype=np.float32)
        bboxes = np.asarray(bboxes, dtype=np.float32)
        count = len(centroids)
        if centroids.shape != (count, 2) or bboxes.shape != (count, 4) or count == 0:
            raise ValidationException('Superpixels need (n, 2) centroids and (n, 4) bboxes with n > 0.')
        # the transition is claimed first: a second report for a done segmentation is a 400 that writes nothing
        slide = ProjectSlide().move_stage(slide, 'segmentation', StageStatus.DONE,
                                          slide_fields={'superpixelCount': count}, **segmentation)
        existing = self.findOne({'slideId': slide['_id']}, fields=['version'])
        version = (existing or {}).get('version', 0) + 1
        self.collection.replace_one({'slideId': slide['_id']}, {
            'slideId': slide['_id'], 'projectId': slide['projectId'], 'itemId': slide['itemId'],
            'count': count, 'version': version, 'centroids': Binary(centroids.tobytes()),
            'bboxes': Binary(bboxes.tobytes())}, upsert=True)
        return slide

    def geometry(self, slide):
        """(centroids (n, 2), bboxes (n, 4)) of a segmented slide, or None."""
        head = self.findOne({'slideId': slide['_id']}, fields=['version'])
        if head is None:
            return None
        return self._arrays(head['_id'], head['version'])

    @functools.lru_cache(maxsize=32)
    def _arrays(self, doc_id, version):
        doc = self.load(doc_id)
        centroids = np.frombuffer(doc['centroids'], dtype=np.float32).reshape(-1, 2)
        bboxes = np.frombuffer(doc['bboxes'], dtype=np.float32).reshape(-1, 4)
        return centroids, bboxes


def superpixel_bbox(slide, superpixel):
    """The superpixel's box [x0, y0, x1, y1] in base-slide pixels (what a client centres the viewer on), or None."""
    geometry = SuperpixelGeometry().geometry(slide)
    if geometry is None or not 0 <= superpixel < len(geometry[1]):
        return None
    return [round(float(v), 1) for v in geometry[1][superpixel]]
