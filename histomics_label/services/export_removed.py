"""The labels of a project's removed slides in an export: ``removed_slides.parquet``.

A slide whose item was deleted loses its superpixels, label image, predictions and embeddings, but its labels,
history and verdicts stay (:meth:`..models.project.Project.remove_slide`). Whatever formats were asked for, an
export writes them to one table with a row per superpixel of a removed slide that has a label or a verdict: the
columns of ``superpixels.parquet`` that need no geometry (ids, effective label, every rater's label and every
verdict), the superpixel's centroid as its labels recorded it, and when the slide was removed. Outlines, boxes,
masks and predictions are gone with the slide, so GeoJSON, COCO, the masks and ``superpixels.parquet`` cover
only the project's present slides.
"""
import pyarrow as pa
import pyarrow.parquet as pq

from ..core.export.parquet import FIELDS, TIME
from ..models.label import Label
from ..models.review import Review

FILE_NAME = 'removed_slides.parquet'
NOTE = ('Removed slides have no superpixels any more: their labels and verdicts are in %s (one row per labeled '
        'or reviewed superpixel, centroid as recorded with its labels, no outline, box, mask, prediction or '
        'embedding). GeoJSON, COCO, the masks and superpixels.parquet cover only the slides listed under slides.'
        % FILE_NAME)
_TYPES = dict(FIELDS)
SCHEMA = pa.schema(
    [(name, _TYPES[name]) for name in ('slide_index', 'item_id', 'slide_name')] + [('slide_removed', TIME)] +
    [(name, _TYPES[name]) for name in ('superpixel', 'centroid_x', 'centroid_y', 'label', 'label_id',
                                       'label_rule', 'raters', 'agreement', 'flagged', 'rater_labels', 'reviews')])


def last_superpixel(project, item_id):
    """The highest superpixel id with a label or a verdict on the slide ``item_id`` (-1 for none)."""
    where = {'projectId': project['_id'], 'itemId': item_id}
    found = [doc['superpixel'] for model in (Label, Review)
             for doc in model().collection.find(where, {'superpixel': True}, sort=[('superpixel', -1)], limit=1)]
    return max(found, default=-1)


class RemovedSlides:
    """Writes the removed slides' table chunk by chunk (``chunk`` superpixel ids per read) to ``path``, if any
    removed slide has a label or a verdict; :meth:`write` returns the manifest entry of each removed slide."""

    def __init__(self, context, project, path, chunk, metadata=None):
        self.context, self.project, self.path, self.chunk = context, project, path, chunk
        self.schema = SCHEMA.with_metadata(metadata or {})
        self.writer = None

    def write(self, progress):
        """Export every removed slide; ``progress(labels)`` is called after each chunk."""
        try:
            return [self._slide(record, progress) for record in self.project.get('removedSlides') or ()]
        finally:
            if self.writer is not None:
                self.writer.close()

    @property
    def written(self):
        return self.writer is not None

    def _slide(self, record, progress):
        stats = {'labels': 0, 'labeledSuperpixels': 0, 'effectiveLabels': 0, 'reviews': 0}
        for start in range(0, last_superpixel(self.project, record['itemId']) + 1, self.chunk):
            labels, reviews = self.context.read(self.project, record['itemId'],
                                                {'$gte': start, '$lt': start + self.chunk})
            records = self.context.records_of(labels, reviews)
            if records:
                self._rows(record, records, {doc['superpixel']: (doc.get('x'), doc.get('y')) for doc in labels})
            stats['labels'] += len(labels)
            stats['reviews'] += len(reviews)
            stats['labeledSuperpixels'] += len(records)
            stats['effectiveLabels'] += sum(entry['categoryId'] is not None for entry, _, _ in records.values())
            progress(len(labels))
        return dict({'itemId': str(record['itemId']), 'name': record['name'], 'index': record['index'],
                     'removed': record.get('removed'), 'file': FILE_NAME if stats['labeledSuperpixels'] else None},
                    **stats)

    def _rows(self, record, records, positions):
        superpixels = sorted(records)
        size = len(superpixels)
        columns = {
            'slide_index': [record['index']] * size, 'item_id': [str(record['itemId'])] * size,
            'slide_name': [record['name']] * size, 'slide_removed': [record.get('removed')] * size,
            'superpixel': superpixels,
            'centroid_x': [positions.get(sp, (None, None))[0] for sp in superpixels],
            'centroid_y': [positions.get(sp, (None, None))[1] for sp in superpixels]}
        columns.update(self.context.label_columns([records[sp] for sp in superpixels]))
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema, compression='zstd')
        self.writer.write_table(pa.Table.from_pydict(columns, schema=self.schema))
