"""The demo keeps its data: the embedded database's snapshot file, and the demo across kill -9 and Ctrl-C.

The first tests exercise ``histomics_label.embedded_store`` on a private mongomock server (no Girder).
The last two start ``devops/serve.py`` (embedded database, private Redis, its Celery worker) on a temporary
data folder. One segments the demo slide, labels it, kills the demo with SIGKILL once a save holds the labels,
restarts it over a half-written temporary snapshot and finds everything again (same ids, labels, files), then
checks that a Ctrl-C saves what was written just before it. The other gives the demo a damaged snapshot,
which it must refuse to start on rather than overwrite.
"""
import datetime
import os
import re
import signal
import subprocess
import sys
import threading
import time

import bson
import girder_client
import mongomock
import mongomock.store
import psutil
import pytest

from conftest import REPO, free_port
from histomics_label import embedded_store

SERVE = os.path.join(REPO, 'devops', 'serve.py')


@pytest.fixture
def server():
    embedded_store.track_writes()
    store = mongomock.store.ServerStore()
    return store, mongomock.MongoClient(_store=store)


def reloaded(path):
    store = mongomock.store.ServerStore()
    counts = embedded_store.load(store, path)
    return counts, mongomock.MongoClient(_store=store)


def test_a_snapshot_round_trips_documents_types_order_and_indexes(server, tmp_path):
    store, client = server
    when = datetime.datetime(2026, 5, 4, 3, 2, 1, 123000)
    client.girder.user.create_index('login', unique=True)
    client.girder.token.create_index([('expires', 1)], expireAfterSeconds=0)
    ids = client.girder.user.insert_many([
        {'login': 'ann', 'created': when, 'salt': bson.Binary(b'\x00\x01', 5), 'raw': b'xy',
         'nested': {'list': [1, 2.5, None, {'deep': 'yes'}]}},
        {'login': 'bob', 'created': when}]).inserted_ids
    client.girder.label.insert_many([{'_id': 'p:i:%d:u' % i, 'category': i % 3} for i in range(50)])
    client.girder.label.update_one({'_id': 'p:i:7:u'}, {'$set': {'category': 9}})
    client.girder.key.insert_one({'_id': {'project': 1, 'superpixel': 2}, 'v': 1})
    client.girder.create_collection('empty')
    client.other.thing.insert_one({'_id': 1})
    path = str(tmp_path / 'database.bson')
    embedded_store.save(store, path)

    counts, copy = reloaded(path)
    assert counts == (6, 54)
    users = list(copy.girder.user.find())
    assert [u['_id'] for u in users] == ids
    assert users[0] == {'_id': ids[0], 'login': 'ann', 'created': when, 'salt': bson.Binary(b'\x00\x01', 5),
                        'raw': b'xy', 'nested': {'list': [1, 2.5, None, {'deep': 'yes'}]}}
    assert [d['_id'] for d in copy.girder.label.find()] == ['p:i:%d:u' % i for i in range(50)]
    assert copy.girder.label.find_one({'_id': 'p:i:7:u'})['category'] == 9
    assert copy.girder.key.find_one({'_id': {'project': 1, 'superpixel': 2}})['v'] == 1
    assert sorted(copy.list_database_names()) == ['girder', 'other']
    assert sorted(copy.girder.list_collection_names()) == ['empty', 'key', 'label', 'token', 'user']
    assert copy.girder.user.index_information()['login_1'] == {'key': [('login', 1)], 'unique': True, 'v': 2}
    assert copy.girder.token.index_information()['expires_1']['expireAfterSeconds'] == 0
    with pytest.raises(mongomock.DuplicateKeyError):  # the unique index holds after loading
        copy.girder.user.insert_one({'login': 'ann'})
    # Girder's ensureIndices at start asks for the same indexes again: accepted as they are
    copy.girder.user.create_index('login', unique=True)


def snapshot_file(path, collections, documents=None):
    """Write a snapshot by hand: [(database, collection, indexes, documents)]; ``documents`` overrides the
    trailer's document count."""
    chunks = [bson.encode({'format': embedded_store.FORMAT, 'version': embedded_store.VERSION})]
    for db_name, name, indexes, docs in collections:
        chunks.append(bson.encode({'database': db_name, 'collection': name, 'indexes': indexes,
                                   'documents': len(docs)}))
        chunks.extend(bson.encode(doc) for doc in docs)
    chunks.append(bson.encode({'end': embedded_store.FORMAT, 'collections': len(collections),
                               'documents': sum(len(c[3]) for c in collections) if documents is None
                               else documents}))
    with open(path, 'wb') as f:
        f.writelines(chunks)


def test_damaged_or_inconsistent_snapshots_are_refused_not_half_loaded(server, tmp_path):
    store, client = server
    client.girder.user.insert_many([{'login': 'u%d' % i} for i in range(20)])
    path = str(tmp_path / 'database.bson')
    embedded_store.save(store, path)
    data = open(path, 'rb').read()
    damaged = str(tmp_path / 'damaged.bson')
    for content, message in ((data[:len(data) // 2], 'damaged'), (data[:-7], 'damaged'), (b'', 'not a'),
                             (b'\x00' * 64, 'damaged'), (data + data[-30:], 'damaged|trailer')):
        open(damaged, 'wb').write(content)
        with pytest.raises(embedded_store.SnapshotError, match=message):
            embedded_store.read(damaged)
    # a trailer that does not match what precedes it
    snapshot_file(damaged, [('girder', 'user', [], [{'_id': 1}])], documents=2)
    with pytest.raises(embedded_store.SnapshotError, match='trailer'):
        embedded_store.read(damaged)
    # documents that break their collection's unique index
    unique = [{'key': [['login', 1]], 'unique': True, 'name': 'login_1'}]
    snapshot_file(damaged, [('girder', 'user', unique, [{'_id': 1, 'login': 'a'}, {'_id': 2, 'login': 'a'}])])
    with pytest.raises(embedded_store.SnapshotError, match='unique index login_1'):
        embedded_store.load(mongomock.store.ServerStore(), damaged)


def test_a_failed_save_keeps_the_previous_snapshot_and_nothing_changed_means_no_save(server, tmp_path):
    store, client = server
    path = str(tmp_path / 'database.bson')
    saver = embedded_store.PeriodicSaver(store, path, interval=3600)
    assert saver.save_if_changed() is False  # what it started from counts as saved (just loaded)
    client.girder.label.insert_one({'_id': 'a', 'v': 1})
    assert saver.save_if_changed() is True
    mtime = os.stat(path).st_mtime_ns
    assert saver.save_if_changed() is False and os.stat(path).st_mtime_ns == mtime
    client.girder.label.find_one({'_id': 'a'})  # reads are not writes
    assert saver.save_if_changed() is False

    client.girder.label.update_one({'_id': 'a'}, {'$set': {'v': 2}})
    os.mkdir(path + '.tmp')  # the temporary file cannot be written
    with pytest.raises(OSError):
        saver.save_if_changed()
    assert reloaded(path)[1].girder.label.find_one()['v'] == 1  # the previous snapshot, whole
    os.rmdir(path + '.tmp')
    assert saver.save_if_changed() is True  # the failed save is retried
    assert reloaded(path)[1].girder.label.find_one()['v'] == 2


def test_snapshots_taken_while_writes_go_on_see_each_write_whole(server):
    """An update changes its document in place field by field; without the write lock, about two thirds of
    these snapshots caught one half done (measured)."""
    store, client = server
    fields = ['f%03d' % i for i in range(300)]
    client.girder.doc.insert_one({'_id': 1, **{f: 0 for f in fields}})
    stop = threading.Event()

    def write():
        i = 0
        while not stop.is_set():
            i += 1
            client.girder.doc.update_one({'_id': 1}, {'$set': {f: i for f in fields}})
            client.girder.log.insert_one({'i': i})

    writer = threading.Thread(target=write)
    writer.start()
    try:
        values = []
        for _ in range(100):
            docs = [bson.decode(chunk) for chunk in embedded_store.encode(store)]
            values.append({d[f] for d in docs if d.get('_id') == 1 for f in fields})
            time.sleep(0.001)
    finally:
        stop.set()
        writer.join()
    assert all(len(v) == 1 for v in values)
    assert len({v.pop() for v in values}) > 10  # the writes did go on meanwhile


def test_the_periodic_saver_saves_within_its_interval_and_on_stop(server, tmp_path):
    store, client = server
    path = str(tmp_path / 'database.bson')
    saver = embedded_store.PeriodicSaver(store, path, interval=0.1).start()
    client.girder.label.insert_one({'_id': 'a', 'v': 1})
    deadline = time.time() + 5
    while not (os.path.exists(path) and reloaded(path)[1].girder.label.find_one({'_id': 'a'})):
        assert time.time() < deadline, 'no periodic save'
        time.sleep(0.05)
    saver.interval = 3600
    time.sleep(0.3)  # the thread is now waiting an hour
    client.girder.label.update_one({'_id': 'a'}, {'$set': {'v': 2}})
    saver.stop()
    assert reloaded(path)[1].girder.label.find_one({'_id': 'a'})['v'] == 2


class Demo:
    """``devops/serve.py`` on a data folder, in its own process group."""

    def __init__(self, data_dir, log_path, *options):
        self.port = free_port()
        self.log_path = log_path
        with open(log_path, 'w') as log:
            self.process = subprocess.Popen(
                [sys.executable, SERVE, '--port', str(self.port), '--data-dir', str(data_dir)] + list(options),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 180
        while 'Press Ctrl-C to stop.' not in self.output():
            if self.process.poll() is not None or time.time() > deadline:
                self.kill()
                pytest.fail('the demo did not start:\n%s' % self.output()[-3000:])
            time.sleep(0.5)
        self.children = psutil.Process(self.process.pid).children(recursive=True)
        self.client = girder_client.GirderClient(apiUrl='http://127.0.0.1:%d/api/v1' % self.port)
        self.client.authenticate('admin', 'histomics')

    def output(self):
        return self.log_path.read_text()

    def kill(self):
        """SIGKILL, as a crash would; the demo's Redis and worker must stop by themselves."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def ctrl_c(self):
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(90)

    def cleanup(self):
        self.kill()
        for child in psutil.wait_procs(self.children, timeout=1)[1]:
            child.kill()


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.time() < deadline, 'timed out waiting for %s' % what
        time.sleep(0.5)


def labels_of(client, project_id, item_id):
    return {label['superpixel']: label['categoryId'] for label in client.get(
        'histomics_label/project/%s/label' % project_id, parameters={'itemId': item_id})}


def saved_labels(path):
    """{superpixel: categoryId} of the labels in the snapshot file (empty while there is none)."""
    if not os.path.exists(path):
        return {}
    return {doc['superpixel']: str(doc['categoryId']) for db, name, indexes, docs in embedded_store.read(path)
            if name == 'histomics_label_label' for doc in docs}


def demo_state(client):
    """What a user sees of the demo: ids, names, the project, its categories, labels and slide state."""
    collection, = client.get('collection')
    folder, = client.get('folder', parameters={'parentType': 'collection', 'parentId': collection['_id']})
    slide, = client.get('item', parameters={'folderId': folder['_id']})
    project, = client.get('histomics_label/project')
    status = client.get('histomics_label/project/%s/status' % project['_id'])['slides'][0]
    return {
        'user': client.get('user/me')['_id'], 'assetstores': [a['_id'] for a in client.get('assetstore')],
        'collection': collection['_id'], 'folder': folder['_id'], 'slide': slide['_id'],
        'project': (project['_id'], project['name']),
        'categories': {c['name']: c['_id'] for c in client.get('histomics_label/project/%s/category' % project['_id'])},
        'labels': labels_of(client, project['_id'], slide['_id']),
        'segmentation': {k: status['segmentation'].get(k) for k in ('status', 'labelItemId', 'dataFileId')},
        'superpixels': status['superpixelCount']}


def printed_slide_id(demo):
    return re.search(r'histomics#\?image=(\w+)', demo.output()).group(1)


@pytest.mark.slow
def test_the_demo_keeps_its_data_across_kill_9_and_ctrl_c(tmp_path):
    data_dir = tmp_path / 'demo'
    snapshot = str(data_dir / 'database.bson')
    demos = []
    try:
        # 1. a project with a real segmentation (the demo's worker) and labels, at the default save interval
        demo = Demo(data_dir, tmp_path / 'run1.log')
        demos.append(demo)
        assert 'New embedded database; it will be saved to %s.' % snapshot in demo.output()
        interval = float(re.search(r'single-process demo storage, saved every ([\d.]+) s', demo.output()).group(1))
        assert interval <= 30  # the promise: a crash loses at most the last 30 s
        assert 'a real site uses MongoDB' in demo.output()
        client = demo.client
        folder = client.get('folder', parameters={'parentType': 'collection',
                                                  'parentId': client.get('collection')[0]['_id']})[0]
        project = client.post('histomics_label/project', parameters={'folderId': folder['_id'], 'name': 'Kept'})
        path = 'histomics_label/project/%s' % project['_id']
        client.post(path + '/segment')
        wait_for(lambda: client.get(path + '/status')['slides'][0]['segmentation'].get('status') == 'done', 240,
                 'the segmentation')
        tumor, stroma = (client.post(path + '/category', parameters={'name': name})['_id']
                         for name in ('Tumor', 'Stroma'))
        slide_id = printed_slide_id(demo)
        written = {i: (tumor if i < 10 else stroma) for i in range(20)}
        written_at = time.monotonic()
        client.put(path + '/label', json={'itemId': slide_id, 'labels': [
            {'superpixel': i, 'categoryId': c} for i, c in written.items()]})
        before = demo_state(client)
        assert before['labels'] == written and before['slide'] == slide_id
        assert before['segmentation']['status'] == 'done' and before['superpixels'] > 100

        # 2. kill -9 once a periodic save holds the labels (within 30 s of writing them); a save cut short
        # leaves a partial temp file
        wait_for(lambda: saved_labels(snapshot) == written, 30, 'a save with the labels')
        assert time.monotonic() - written_at <= 30
        demo.kill()
        gone, alive = psutil.wait_procs(demo.children, timeout=120)
        assert not alive, 'the Redis and worker of a killed demo still run: %r' % alive
        with open(snapshot, 'rb') as f, open(snapshot + '.tmp', 'wb') as partial:
            partial.write(f.read()[:5000])

        # 3. the restart finds everything: same ids, the labels, the segmentation files in the assetstore
        demo = Demo(data_dir, tmp_path / 'run2.log', '--save-interval', '3600')
        demos.append(demo)
        client = demo.client
        assert re.search(r'Loaded the embedded database from %s \(\d+ collections, \d+ documents\)\.' % re.escape(
            snapshot), demo.output())
        assert not os.path.exists(snapshot + '.tmp')
        assert demo_state(client) == before
        assert printed_slide_id(demo) == slide_id
        assert client.get('item/%s/tiles' % before['segmentation']['labelItemId'])['sizeX'] > 0
        assert client.get('file/%s' % before['segmentation']['dataFileId'])['size'] > 0
        # the features job that follows the segmentation can never finish if the kill interrupted it: failed
        assert all(job['status'] in (3, 4, 5) for job in client.get('job', parameters={'limit': 0}))
        features = client.get(path + '/status')['slides'][0]['features']
        assert features['status'] == 'done' or features == {
            'status': 'error', 'jobId': features['jobId'],
            'error': 'InterruptedError: the demo stopped before this job finished; run it again.'}, features
        # a second demo on the same data folder is refused
        second = subprocess.run([sys.executable, SERVE, '--port', str(free_port()), '--data-dir', str(data_dir)],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and 'Another demo is running on %s' % data_dir in second.stderr

        # 4. Ctrl-C right after writes (no periodic save for an hour) saves them
        necrosis = client.post(path + '/category', parameters={'name': 'Necrosis'})['_id']
        client.put(path + '/label', json={'itemId': slide_id, 'labels': [{'superpixel': 0, 'categoryId': necrosis}]})
        expected = dict(before, categories=dict(before['categories'], Necrosis=necrosis),
                        labels={**written, 0: necrosis})
        assert demo_state(client) == expected
        assert demo.ctrl_c() == 0
        assert 'Embedded database saved to %s.' % snapshot in demo.output()

        demo = Demo(data_dir, tmp_path / 'run3.log', '--save-interval', '3600')
        demos.append(demo)
        assert demo_state(demo.client) == expected
        assert demo.ctrl_c() == 0
    finally:
        for demo in demos:
            demo.cleanup()


def test_the_demo_refuses_a_damaged_snapshot_and_leaves_it_alone(tmp_path):
    data_dir = tmp_path / 'demo'
    data_dir.mkdir()
    snapshot = data_dir / 'database.bson'
    snapshot.write_bytes(b'\x40\x00\x00\x00 not a snapshot')
    result = subprocess.run([sys.executable, SERVE, '--port', str(free_port()), '--data-dir', str(data_dir)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert 'Cannot load the embedded database: %s is damaged' % snapshot in result.stderr
    assert 'Move that file away to start with an empty database.' in result.stderr
    assert snapshot.read_bytes() == b'\x40\x00\x00\x00 not a snapshot'
