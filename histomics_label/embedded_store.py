"""Persistence of the embedded (mongomock) database: a snapshot file, for the single-process demo only.

A real site uses MongoDB. Here every database and collection of one in-process mongomock server is saved to
one file, periodically and on a clean stop, and loaded at the next start:

- consistent: every mongomock write takes one process-wide lock (``track_writes``); a snapshot encodes all
  collections under it, so it never sees a write half done, and it counts writes, so an unchanged database
  is not saved again;
- atomic: a save writes ``<path>.tmp``, flushes and fsyncs it, then ``os.replace``s it over ``<path>`` and
  fsyncs the folder, so ``<path>`` is at every moment the previous or the new complete snapshot; a crash
  loses at most the writes since the last save and leaves at worst an unfinished ``.tmp``, which is ignored;
- checked: the file is a stream of BSON documents (a header; per collection a descriptor with its indexes
  and document count, then its documents; a trailer with the totals); anything else is refused at load
  with ``SnapshotError`` instead of starting on partial data. Unique indexes are rebuilt through mongomock,
  which checks that the loaded documents still satisfy them.
"""
import datetime
import functools
import logging
import os
import threading

import bson
import bson.errors

FORMAT, VERSION = 'histomics-label-embedded-db', 1
logger = logging.getLogger(__name__)
_lock = threading.RLock()
_writes = 0


class SnapshotError(Exception):
    """The snapshot file cannot be loaded (corrupt, truncated or another format)."""


def track_writes():
    """Make every mongomock write hold the snapshot lock and count itself; safe to call more than once.

    Inserts, deletes and index changes go through mongomock's stores; updates change the stored document in
    place inside ``Collection._update``, and ``drop_indexes`` replaces a store's index dict, so those two are
    wrapped too.
    """
    import mongomock.collection
    import mongomock.store

    for cls, names in ((mongomock.store.CollectionStore, ('__setitem__', '__delitem__', 'drop', 'create_index',
                                                          'drop_index')),
                       (mongomock.store.DatabaseStore, ('create_collection', 'rename')),
                       (mongomock.collection.Collection, ('_update', 'drop_indexes'))):
        for name in names:
            method = getattr(cls, name)
            if not getattr(method, 'histomics_label_tracked', False):
                setattr(cls, name, _tracked(method))


def _tracked(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        global _writes
        with _lock:
            _writes += 1
            return method(*args, **kwargs)

    wrapper.histomics_label_tracked = True
    return wrapper


def write_count():
    """How many mongomock writes this process has made (a save is needed when this moved)."""
    return _writes


def encode(server):
    """Every created collection of a mongomock ``ServerStore`` as BSON chunks, taken at one instant."""
    chunks, documents = [], 0
    with _lock:
        for db_name, database in list(server._databases.items()):
            for name, collection in list(database._collections.items()):
                if not collection.is_created:
                    continue
                docs = list(collection._documents.values())
                indexes = [dict(spec, name=index) for index, spec in collection.indexes.items()]
                chunks.append(bson.encode({'database': db_name, 'collection': name, 'indexes': indexes,
                                           'documents': len(docs)}))
                chunks.extend(bson.encode(doc) for doc in docs)
                documents += len(docs)
    header = bson.encode({'format': FORMAT, 'version': VERSION, 'savedAt': datetime.datetime.utcnow()})
    trailer = bson.encode({'end': FORMAT, 'collections': len(chunks) - documents, 'documents': documents})
    return [header] + chunks + [trailer]


def save(server, path):
    """Write a snapshot of ``server`` to ``path`` atomically; returns the write count it includes."""
    count = _writes  # read before encoding: a write racing with this save makes the next save happen too
    chunks = encode(server)
    temp = path + '.tmp'
    with open(temp, 'wb') as f:
        f.writelines(chunks)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return count


def read(path):
    """Parse a snapshot file: ``[(database, collection, index specs, documents)]``; raises SnapshotError."""
    try:
        with open(path, 'rb') as f:
            stream = bson.decode_file_iter(f)
            header = next(stream, None)
            if not header or header.get('format') != FORMAT or header.get('version') != VERSION:
                raise SnapshotError('%s is not a %s snapshot (version %d)' % (path, FORMAT, VERSION))
            collections = []
            for entry in stream:
                if entry.get('end') == FORMAT:
                    expected = (entry.get('collections'), entry.get('documents'))
                    found = (len(collections), sum(len(c[3]) for c in collections))
                    if expected != found or next(stream, None) is not None:
                        raise SnapshotError('%s does not hold what its trailer says' % path)
                    return collections
                docs = [next(stream) for _ in range(entry['documents'])]
                collections.append((entry['database'], entry['collection'], entry['indexes'], docs))
    except (bson.errors.BSONError, KeyError, StopIteration, TypeError) as exc:
        raise SnapshotError('%s is damaged: %s' % (path, exc or type(exc).__name__)) from exc
    raise SnapshotError('%s is incomplete (no trailer)' % path)


def load(server, path):
    """Fill an empty mongomock ``ServerStore`` from the snapshot at ``path``; returns (collections, documents).

    Raises SnapshotError if the file is unreadable or its documents break one of its unique indexes.
    """
    import mongomock
    from mongomock import helpers

    collections = read(path)
    client = mongomock.MongoClient(_store=server)
    for db_name, name, indexes, docs in collections:
        store = server[db_name][name]
        store.create()
        for doc in docs:
            key = doc['_id']
            store._documents[helpers.hashdict(key) if isinstance(key, dict) else key] = doc
        for spec in indexes:
            options = {k: v for k, v in spec.items() if k not in ('key', 'name')}
            try:
                client[db_name][name].create_index([tuple(k) for k in spec['key']], name=spec['name'], **options)
            except mongomock.DuplicateKeyError as exc:
                raise SnapshotError('%s: %s.%s breaks its unique index %s' % (
                    path, db_name, name, spec['name'])) from exc
    return len(collections), sum(len(c[3]) for c in collections)


class PeriodicSaver:
    """Saves a mongomock server to ``path`` every ``interval`` seconds when it changed, and on ``stop()``.

    Create it right after loading: the server as it is then counts as saved.
    """

    def __init__(self, server, path, interval):
        self.server, self.path, self.interval = server, path, interval
        self.saved = _writes
        self.last_error = None
        self._save_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name='embedded-db-saver', daemon=True)

    def start(self):
        self._thread.start()
        return self

    def save_if_changed(self):
        """Save now unless nothing was written since the last save; returns whether it saved."""
        with self._save_lock:
            if _writes == self.saved:
                return False
            self.saved = save(self.server, self.path)
            self.last_error = None
            return True

    def _run(self):
        while not self._stopping.wait(self.interval):
            try:
                self.save_if_changed()
            except Exception as exc:  # keep trying: the previous snapshot stays whole meanwhile
                if str(exc) != str(self.last_error):
                    logger.exception('Saving the embedded database to %s failed', self.path)
                self.last_error = exc

    def stop(self):
        """Stop the periodic saves and save what changed since the last one (raises if that fails)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.save_if_changed()
