"""Girder on an in-process mongomock database: for the demo and the test suite, never for production.

Nothing is persisted: everything is lost when the process stops. Three shims make Girder 3.2 and
large_image work on mongomock 4.3 (see docs/development.md); mongomock still lacks ``$text`` search and
``$lookup`` with ``let``, so plugin code must not rely on those.
"""
import functools


def apply_mongomock_shims():
    """Patch mongomock and girder so that Girder 3.2 runs on it; safe to call more than once."""
    import girder.api.rest
    import mongomock.collection
    import mongomock.command_cursor

    cursor = mongomock.collection.Cursor
    if not hasattr(cursor, 'count'):
        # pymongo 4 dropped Cursor.count, so mongomock did too, but Girder 3 still calls it.
        cursor.count = lambda self, with_limit_and_skip=False: len(
            self._compute_results(with_limit_and_skip))

    collection = mongomock.collection.Collection
    if not getattr(collection.with_options, 'histomics_label_shim', False):
        original = collection.with_options

        @functools.wraps(original)
        def with_options(self, codec_options=None, *args, **kwargs):
            # large_image asks for a custom document_class (raw BSON); mongomock can only give dicts.
            if codec_options is not None and codec_options.document_class is not dict:
                codec_options = None
            return original(self, codec_options, *args, **kwargs)

        with_options.histomics_label_shim = True
        collection.with_options = with_options

    extra = (cursor, mongomock.command_cursor.CommandCursor)
    if not set(extra) <= set(girder.api.rest._MONGO_CURSOR_TYPES):
        # Without this, list endpoints return 500 "Cannot call filtermodel" on mongomock cursors.
        girder.api.rest._MONGO_CURSOR_TYPES = tuple(girder.api.rest._MONGO_CURSOR_TYPES) + extra


def use_mongomock():
    """Make every pymongo client Girder creates an in-process mongomock client."""
    import mongomock
    import pymongo

    apply_mongomock_shims()
    pymongo.MongoClient = mongomock.MongoClient
