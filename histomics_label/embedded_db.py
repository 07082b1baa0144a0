"""Girder on an in-process mongomock database: for the demo and the test suite, never for production.

In memory only (the demo saves it to a snapshot file with ``histomics_label.embedded_store``). A few shims
make Girder 3.2, large_image and pymongo 4.20's bulk writes work on mongomock 4.3 (see docs/development.md);
mongomock still lacks ``$text`` search and ``$lookup`` with ``let``, so plugin code must not rely on those.
"""
import functools

import bson


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

    if not getattr(collection._iter_documents, 'histomics_label_shim', False):
        collection._iter_documents = _with_id_lookup(collection._iter_documents)

    builder = mongomock.collection.BulkOperationBuilder
    for name in ('add_update', 'add_replace'):
        method = getattr(builder, name)
        if not getattr(method, 'histomics_label_shim', False):
            setattr(builder, name, _without_sort(method))

    extra = (cursor, mongomock.command_cursor.CommandCursor)
    if not set(extra) <= set(girder.api.rest._MONGO_CURSOR_TYPES):
        # Without this, list endpoints return 500 "Cannot call filtermodel" on mongomock cursors.
        girder.api.rest._MONGO_CURSOR_TYPES = tuple(girder.api.rest._MONGO_CURSOR_TYPES) + extra


def _with_id_lookup(method):
    """mongomock copies and scans every document for every query; look ``{'_id': value}`` and
    ``{'_id': {'$in': [...]}}`` up directly, so point lookups by ``_id`` (one label document per key) stay
    as cheap as MongoDB's ``_id`` index makes them."""
    @functools.wraps(method)
    def wrapper(self, filter):
        key = filter.get('_id') if isinstance(filter, dict) and len(filter) == 1 else None
        if isinstance(key, (str, bson.ObjectId)):
            return iter([self._store[key]] if key in self._store else [])
        if isinstance(key, dict) and list(key) == ['$in'] and all(isinstance(k, (str, bson.ObjectId))
                                                                 for k in key['$in']):
            return iter([self._store[k] for k in dict.fromkeys(key['$in']) if k in self._store])
        return method(self, filter)

    wrapper.histomics_label_shim = True
    return wrapper


def _without_sort(method):
    """pymongo >= 4.11 passes ``sort`` to bulk updates; mongomock 4.3 does not know it (unused by us)."""
    @functools.wraps(method)
    def wrapper(self, *args, sort=None, **kwargs):
        if sort is not None:
            raise NotImplementedError('mongomock cannot sort a bulk update')
        return method(self, *args, **kwargs)

    wrapper.histomics_label_shim = True
    return wrapper


def use_mongomock():
    """Make every pymongo client created from now on a client of one in-process mongomock server; returns
    that server's store (``mongomock.store.ServerStore``, what ``embedded_store`` saves and loads)."""
    import mongomock
    import mongomock.store
    import pymongo

    apply_mongomock_shims()
    server = mongomock.store.ServerStore()

    class MongoClient(mongomock.MongoClient):
        def __init__(self, *args, _store=None, **kwargs):
            super().__init__(*args, _store=_store or server, **kwargs)

    pymongo.MongoClient = MongoClient
    return server
