"""A project's superpixel features as one block per slide, used in place: never concatenated into one matrix.

Rows are numbered block after block (blocks in slide-index order, each block's rows in its file's order);
``slide_index`` and ``superpixel`` give each row's superpixel. Training gathers the labeled rows
(:meth:`FeatureBlocks.take`) and predicts block by block (:meth:`FeatureBlocks.blocks_of_rows`), so a
prediction over a million superpixels holds no copy of their features.

A block may store its rows centred: ``values + offset`` are the features (the feature cache keeps float16
rows minus their float32 mean, which float16 represents more precisely and multiplies without a float32 copy).
"""
import numpy as np


class FeatureBlock:
    """One slide's features: ``ids`` (superpixel of each row) and ``values`` (rows, used as given; the
    features are ``values + offset`` when ``offset``, a float32 row, is given), with the sort order of ``ids``
    for lookups."""

    def __init__(self, ids, values, offset=None):
        ids = np.asarray(ids, dtype=np.int64).ravel()
        values = np.asarray(values)
        if len(ids) != len(values):
            raise ValueError('%d ids for %d feature rows' % (len(ids), len(values)))
        self.order = np.argsort(ids, kind='stable')
        if len(ids) > 1 and np.any(np.diff(ids[self.order]) == 0):
            raise ValueError('superpixel ids repeat within a features block')
        self.ids, self.values = ids, values
        self.offset = None if offset is None else np.asarray(offset, dtype=np.float32)
        if self.offset is not None and self.offset.shape != values.shape[1:]:
            raise ValueError('the offset of a features block has the shape of one row')

    @property
    def nbytes(self):
        return self.ids.nbytes + self.values.nbytes + self.order.nbytes + (
            0 if self.offset is None else self.offset.nbytes)

    def rows(self, selection):
        """The features of rows ``selection`` (an index array or a slice), offset added back."""
        values = self.values[selection]
        return values if self.offset is None else values.astype(np.float32) + self.offset

    def rows_of(self, superpixels):
        """Row of each superpixel id, -1 where the block has none."""
        superpixels = np.asarray(superpixels, dtype=np.int64)
        sorted_ids = self.ids[self.order]
        position = np.minimum(np.searchsorted(sorted_ids, superpixels), max(len(sorted_ids) - 1, 0))
        found = (sorted_ids[position] == superpixels) if len(sorted_ids) else np.zeros(len(superpixels), bool)
        return np.where(found, self.order[position] if len(sorted_ids) else -1, -1)


class FeatureBlocks:
    """The features of every slide of a project: ``{slide index: FeatureBlock}``."""

    def __init__(self, blocks):
        self.indices = sorted(int(index) for index in blocks)
        self.blocks = [blocks[index] for index in self.indices]
        shapes = {block.values.shape[1:] for block in self.blocks}
        if len(shapes) > 1:
            raise ValueError('feature rows of different shapes across slides: %s' % sorted(shapes))
        self.row_shape = shapes.pop() if shapes else ()
        self.starts = np.concatenate([[0], np.cumsum([len(block.ids) for block in self.blocks])]).astype(np.int64)
        self.n = int(self.starts[-1])

    @classmethod
    def from_slides(cls, slides):
        """From ``{slide_index: (ids, values)}`` (the arrays are used as they are, not copied)."""
        return cls({index: ids_values if isinstance(ids_values, FeatureBlock) else FeatureBlock(*ids_values)
                    for index, ids_values in slides.items()})

    @property
    def slide_index(self):
        return np.repeat(np.asarray(self.indices, dtype=np.int64), np.diff(self.starts))

    @property
    def superpixel(self):
        return np.concatenate([block.ids for block in self.blocks]) if self.blocks else np.zeros(0, np.int64)

    def rows(self, pairs):
        """Rows of ``(slide index, superpixel)`` pairs; ValueError naming the first pair without features."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        rows = np.full(len(pairs), -1, dtype=np.int64)
        for position, index in enumerate(self.indices):
            members = np.flatnonzero(pairs[:, 0] == index)
            found = self.blocks[position].rows_of(pairs[members, 1])
            rows[members] = np.where(found >= 0, found + self.starts[position], -1)
        missing = np.flatnonzero(rows < 0)
        if len(missing):
            first = pairs[missing[0]]
            raise ValueError('%d labels name superpixels without features, e.g. slide %d superpixel %d'
                             % (len(missing), first[0], first[1]))
        return rows

    def take(self, rows):
        """The features of rows ``rows`` (in that order), as one array of the blocks' dtype (float32 where
        blocks are stored centred)."""
        rows = np.asarray(rows, dtype=np.int64)
        block_of = np.searchsorted(self.starts, rows, side='right') - 1
        dtype = np.result_type(*[np.float32 if block.offset is not None else block.values.dtype
                                 for block in self.blocks]) if self.blocks else np.float32
        out = np.empty((len(rows),) + tuple(self.row_shape), dtype=dtype)
        for position in np.unique(block_of):
            members = np.flatnonzero(block_of == position)
            out[members] = self.blocks[position].rows(rows[members] - self.starts[position])
        return out

    def blocks_of_rows(self, size):
        """``(first row, values, offset)`` pieces of at most ``size`` rows covering every row in order:
        views of the stored values, whose features are ``values + offset`` (offset None: the values)."""
        for start, block in zip(self.starts, self.blocks):
            for first in range(0, len(block.ids), size):
                yield int(start + first), block.values[first:first + size], block.offset
