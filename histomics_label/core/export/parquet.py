"""The superpixel table: one Parquet row per superpixel, written in row groups with pyarrow.

Columns: ids (slide index, item id, slide name, patient, split, superpixel), geometry (centroid, box in
base-slide pixels), the effective label (category, rule, raters, agreement, flagged), every rater's label and
every reviewer's verdict (lists of structs), the model's prediction (category, certainty, per-category
probabilities in the manifest's ``predictionCategories`` order) and, optionally, the embedding.
"""
import pyarrow as pa
import pyarrow.parquet as pq

TIME = pa.timestamp('ms', tz='UTC')
RATER = pa.struct([('user_id', pa.string()), ('user_login', pa.string()), ('category_id', pa.string()),
                   ('category', pa.string()), ('source', pa.string()), ('epoch', pa.int32()), ('updated', TIME)])
REVIEW = pa.struct([('reviewer_id', pa.string()), ('reviewer_login', pa.string()), ('verdict', pa.string()),
                    ('category_id', pa.string()), ('category', pa.string()), ('comment', pa.string()),
                    ('time', TIME)])
FIELDS = [
    ('slide_index', pa.int32()), ('item_id', pa.string()), ('slide_name', pa.string()),
    ('patient_id', pa.string()), ('split', pa.string()), ('superpixel', pa.int32()),
    ('centroid_x', pa.float32()), ('centroid_y', pa.float32()),
    ('bbox_x0', pa.float32()), ('bbox_y0', pa.float32()), ('bbox_x1', pa.float32()), ('bbox_y1', pa.float32()),
    ('label', pa.string()), ('label_id', pa.string()), ('label_rule', pa.string()), ('raters', pa.int16()),
    ('agreement', pa.float32()), ('flagged', pa.bool_()),
    ('rater_labels', pa.list_(RATER)), ('reviews', pa.list_(REVIEW)),
    ('predicted', pa.string()), ('predicted_id', pa.string()), ('certainty', pa.float32()),
    ('probabilities', pa.list_(pa.float32())),
]


def table_schema(embedding_dim=None):
    """The table's schema; with ``embedding_dim`` an ``embedding`` column of that many float32 values."""
    fields = list(FIELDS)
    if embedding_dim:
        fields.append(('embedding', pa.list_(pa.float32(), int(embedding_dim))))
    return pa.schema(fields)


class SuperpixelTable:
    """Write the table chunk by chunk (:meth:`write` takes a dict of column -> values, one row group)."""

    def __init__(self, path, embedding_dim=None, metadata=None):
        self.schema = table_schema(embedding_dim)
        if metadata:
            self.schema = self.schema.with_metadata({key: str(value) for key, value in metadata.items()})
        self.writer = pq.ParquetWriter(path, self.schema, compression='zstd')
        self.rows = 0

    def write(self, columns):
        embedding = columns.get('embedding')
        arrays = []
        for field in self.schema:
            if field.name == 'embedding' and embedding is not None and hasattr(embedding, 'ndim'):
                arrays.append(pa.FixedSizeListArray.from_arrays(
                    pa.array(embedding.reshape(-1), type=pa.float32()), field.type.list_size))
            else:
                values = columns.get(field.name)
                arrays.append(pa.array([None] * len(columns['superpixel']) if values is None else values,
                                       type=field.type))
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self):
        self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
