"""Model output imported back as predictions to review.

An import (a GeoJSON file, or a label image of category codes, stored in Girder) becomes one named prediction
source per slide: per superpixel the category it gives (or none) and its certainty, read at the superpixel's
centroid (:mod:`..core.prediction_import`). It is stored beside the model's epochs in the prediction collection
(``source: "import"``, never an epoch: the project's model, ranking and training are untouched), so deleting a
slide or a project removes it with the other predictions. A reviewer lists a slide's imported predictions
(``GET project/{id}/slide/{itemId}/import``), each with the superpixel's current effective label, and accepts
or corrects them with ordinary verdicts (``PUT project/{id}/review``: ``agree`` / ``correct``), which make the
effective label (adjudicated) without ever counting the model as a rater.
"""
import datetime
import json
import os
import shutil
import tempfile

import numpy as np
from bson.binary import Binary
from girder.exceptions import FilePathException, ValidationException
from girder.models.file import File

from ..core.prediction_import import assign_features, sample_codes
from ..models.category import Category
from ..models.prediction import Prediction
from ..models.review import slide_effective_labels
from ..models.superpixels import SuperpixelGeometry

SOURCE = 'import'
JSON_NAMES = ('.json', '.geojson')
MAX_JSON_BYTES = 512 * 1024 ** 2
STATUSES = ('all', 'unreviewed', 'agree', 'disagree')


class _LocalCopy:
    """A local path of a Girder file: its own path on a filesystem assetstore, else a temporary copy."""

    def __init__(self, file):
        self.file, self.tmp = file, None

    def __enter__(self):
        try:
            return File().getLocalFilePath(self.file)
        except FilePathException:
            self.tmp = tempfile.mkdtemp(prefix='histomics-label-import-')
            path = os.path.join(self.tmp, os.path.basename(self.file['name']))
            with File().open(self.file) as source, open(path, 'wb') as target:
                shutil.copyfileobj(source, target)
            return path

    def __exit__(self, *exc):
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _from_geojson(file, centroids):
    if file['size'] > MAX_JSON_BYTES:
        raise ValidationException('GeoJSON files of at most %d MB are imported.' % (MAX_JSON_BYTES >> 20), 'fileId')
    with File().open(file) as stream:
        try:
            document = json.loads(stream.read())
        except ValueError as exc:
            raise ValidationException('File %s is not JSON: %s.' % (file['name'], exc), 'fileId')
    if not isinstance(document, dict) or document.get('type') != 'FeatureCollection' or not isinstance(
            document.get('features'), list):
        raise ValidationException('File %s is not a GeoJSON FeatureCollection.' % file['name'], 'fileId')
    try:
        return assign_features(document['features'], centroids)
    except ValueError as exc:
        raise ValidationException('File %s: %s.' % (file['name'], exc), 'fileId')


def _from_label_image(file, centroids, base_size, codes):
    import large_image
    import tifffile
    from large_image.exceptions import TileSourceError

    with _LocalCopy(file) as path:
        if codes is None:
            try:
                with tifffile.TiffFile(path) as tif:
                    codes = json.loads(tif.pages[0].description)['histomicsLabel']['codes']
            except (ValueError, KeyError, TypeError, tifffile.TiffFileError):
                raise ValidationException('Give codes ({"1": "Tumor", ...}): label image %s does not name its '
                                          'codes (as the masks of an export do).' % file['name'], 'codes')
        try:
            source = large_image.open(path)
            meta = source.getMetadata()
            tiles = ((tile['x'], tile['y'], np.asarray(tile['tile'])) for tile in source.tileIterator(
                format=large_image.constants.TILE_FORMAT_NUMPY))
            values = sample_codes(tiles, centroids, (meta['sizeX'], meta['sizeY']), base_size)
        except TileSourceError as exc:
            raise ValidationException('File %s is not a readable label image: %s' % (file['name'], exc), 'fileId')
    names = []
    columns = np.full(len(centroids), -1, dtype=np.int32)
    for code, name in sorted(codes.items(), key=lambda item: str(item[0])):
        if name in (None, '') or str(code) == '0':
            continue
        if str(name) not in names:
            names.append(str(name))
        columns[values == int(code)] = names.index(str(name))
    return columns, np.full(len(centroids), np.nan, dtype=np.float32), names, 0


def import_predictions(project, slide, user, file, name, codes=None):
    """Store ``file`` (GeoJSON, or a label image of category ``codes``) as the slide's imported predictions
    called ``name`` (replacing an earlier import of that name). 400, writing nothing, for a file that is
    neither, a category the project does not have, or an import that covers no superpixel."""
    geometry = SuperpixelGeometry().geometry(slide)
    if geometry is None:
        raise ValidationException('Slide %s has no superpixels yet.' % slide['name'], 'itemId')
    centroids = geometry[0]
    if file['name'].lower().endswith(JSON_NAMES):
        columns, certainty, names, skipped = _from_geojson(file, centroids)
    else:
        from girder.models.item import Item
        from girder_large_image.models.image_item import ImageItem

        meta = ImageItem().getMetadata(Item().load(slide['itemId'], force=True))
        columns, certainty, names, skipped = _from_label_image(file, centroids, (meta['sizeX'], meta['sizeY']),
                                                               codes)
    by_name = {c['name'].lower(): c['_id'] for c in Category().columns(project)[0]}
    unknown = sorted(n for n in names if n.lower() not in by_name)
    if unknown:
        raise ValidationException('Unknown categories (create them first, or rename): %s.' % ', '.join(unknown),
                                  'fileId')
    if not (columns >= 0).any():
        raise ValidationException('The import covers no superpixel of slide %s (coordinates are base-slide '
                                  'pixels).' % slide['name'], 'fileId')
    where = {'projectId': project['_id'], 'itemId': slide['itemId'], 'source': SOURCE, 'name': name}
    Prediction().collection.delete_many(where)
    Prediction().collection.insert_one(dict(
        where, epoch=SOURCE, count=len(columns), categoryIds=[by_name[n.lower()] for n in names],
        columns=Binary(columns.astype(np.int32).tobytes()), certainty=Binary(certainty.tobytes()),
        fileId=file['_id'], creatorId=user['_id'], created=datetime.datetime.now(datetime.timezone.utc)))
    counts = np.bincount(columns[columns >= 0], minlength=len(names))
    return {'name': name, 'itemId': slide['itemId'], 'superpixels': len(columns), 'covered': int(counts.sum()),
            'skippedFeatures': skipped, 'categories': {str(by_name[n.lower()]): int(count) for n, count in zip(names, counts)}}


def import_sources(project, item_id=None):
    """The project's imports (without their arrays): itemId, name, covered superpixels, file, who, when."""
    where = {'projectId': project['_id'], 'source': SOURCE}
    if item_id is not None:
        where['itemId'] = item_id
    return [{'itemId': doc['itemId'], 'name': doc['name'], 'fileId': doc['fileId'], 'creatorId': doc['creatorId'],
             'created': doc['created'], 'superpixels': doc['count']}
            for doc in Prediction().collection.find(where, {'columns': False, 'certainty': False},
                                                    sort=[('itemId', 1), ('name', 1)])]


def imported_rows(project, slide, name=None, status='all', limit=50, offset=0):
    """{total, rows, sources}: the slide's imported predictions per covered superpixel (least certain first),
    each with its effective label now; ``status``: all, unreviewed (no effective label yet), agree / disagree
    (the effective label is / is not the imported category)."""
    resolve = Category().resolve(Category().list(project))
    effective = slide_effective_labels(project, slide['itemId'], resolve)
    where = {'projectId': project['_id'], 'itemId': slide['itemId'], 'source': SOURCE}
    if name is not None:
        where['name'] = name
    rows = []
    for doc in Prediction().collection.find(where, sort=[('name', 1)]):
        columns = np.frombuffer(doc['columns'], dtype=np.int32)
        certainty = np.frombuffer(doc['certainty'], dtype=np.float32)
        for superpixel in np.flatnonzero(columns >= 0).tolist():
            category = resolve.get(doc['categoryIds'][columns[superpixel]], doc['categoryIds'][columns[superpixel]])
            entry = effective.get(superpixel) or {}
            current = entry.get('categoryId')
            if (status == 'unreviewed' and current is not None) or (status == 'agree' and current != category) or (
                    status == 'disagree' and (current is None or current == category)):
                continue
            value = float(certainty[superpixel])
            rows.append({'itemId': slide['itemId'], 'name': doc['name'], 'superpixel': superpixel,
                         'categoryId': category, 'certainty': None if np.isnan(value) else round(value, 5),
                         'effective': {'categoryId': current, 'rule': entry['rule']} if entry else None})
    rows.sort(key=lambda row: (row['certainty'] is None, row['certainty'] or 0, row['name'], row['superpixel']))
    return {'total': len(rows), 'rows': rows[offset:offset + limit] if limit else rows[offset:],
            'sources': import_sources(project, slide['itemId'])}
