"""Test configuration.

The Girder tests run on pytest-girder with an in-process mongomock database by default (``--mock-db``
is implied), plus the shims mongomock needs for Girder 3.2 and large_image. Pass
``--mongo-uri mongodb://HOST:27017`` to run the same tests against a real MongoDB instead.
"""
import os
import shutil
import socket
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.path.dirname(REPO), 'shared', 'data')
SLIDE = os.path.join(DATA, 'slides', 'CMU-1-Small-Region.svs')
ARTIFACTS = os.path.join(REPO, 'test-artifacts')


def pytest_configure(config):
    explicit_uri = any(arg.startswith('--mongo-uri') for arg in config.invocation_params.args)
    if not explicit_uri:
        config.option.mock_db = True
    if config.option.mock_db:
        from histomics_label.embedded_db import apply_mongomock_shims

        apply_mongomock_shims()


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_for_job(job_id, timeout=180, poll=0.25):
    """The job document (with its log) once it succeeded, failed or was canceled, read from the database."""
    from girder_jobs.constants import JobStatus
    from girder_jobs.models.job import Job

    deadline = time.time() + timeout
    while time.time() < deadline:
        job = Job().load(job_id, force=True, includeLog=True)
        if job['status'] in (JobStatus.SUCCESS, JobStatus.ERROR, JobStatus.CANCELED):
            return job
        time.sleep(poll)
    raise AssertionError('Job %s did not finish in %d s: %r' % (job_id, timeout, job))


@pytest.fixture(scope='session')
def redis_url(tmp_path_factory):
    """A real Redis broker on 127.0.0.1: $HISTOMICS_LABEL_TEST_REDIS if set, else a private server."""
    if os.environ.get('HISTOMICS_LABEL_TEST_REDIS'):
        yield os.environ['HISTOMICS_LABEL_TEST_REDIS']
        return
    server = shutil.which('redis-server')
    if not server:
        pytest.fail('redis-server is not installed (apt-get install redis-server); the job tests need it')
    port = free_port()
    workdir = tmp_path_factory.mktemp('redis')
    process = subprocess.Popen(
        [server, '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
         '--dir', str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            break
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail('redis-server did not start')
            time.sleep(0.05)
    yield 'redis://127.0.0.1:%d/0' % port
    process.terminate()
    process.wait(10)


def upload_large_image(path, name, folder, user):
    """Upload a local image file into a Girder folder and make it a large image item; returns the item."""
    from girder.models.item import Item
    from girder.models.upload import Upload
    from girder_large_image.models.image_item import ImageItem

    with open(path, 'rb') as f:
        file = Upload().uploadFromFile(f, os.path.getsize(path), name, parentType='folder', parent=folder,
                                       user=user)
    item = Item().load(file['itemId'], force=True)
    if 'largeImage' not in item:
        ImageItem().createImageItem(item, file, user=user, createJob=False)
        item = Item().load(item['_id'], force=True)
    return item


@pytest.fixture
def slide_item(admin, fsAssetstore):
    """The CMU-1-Small-Region slide uploaded into a public collection folder, made a large image."""
    from girder.models.collection import Collection
    from girder.models.folder import Folder
    from girder.models.upload import Upload
    from girder_large_image.models.image_item import ImageItem

    collection = Collection().createCollection('Slides', admin, public=True)
    folder = Folder().createFolder(collection, 'Study', parentType='collection', public=True,
                                   creator=admin)
    with open(SLIDE, 'rb') as f:
        file = Upload().uploadFromFile(f, os.path.getsize(SLIDE), os.path.basename(SLIDE),
                                       parentType='folder', parent=folder, user=admin)
    item = ImageItem().load(file['itemId'], force=True)
    if 'largeImage' not in item:  # large_image usually does this on upload already
        ImageItem().createImageItem(item, file, user=admin, createJob=False)
        item = ImageItem().load(item['_id'], force=True)
    assert item['largeImage']['fileId'] == file['_id']
    return item


@pytest.fixture
def labeler(db, admin):
    """A second, non-admin user who only has the access a test grants."""
    from girder.models.user import User

    return User().createUser('labeler', 'password', 'Lab', 'Eler', 'labeler@example.com')


@pytest.fixture
def project(admin, slide_item):
    """A project on the slide's (public, admin-owned) folder, as POST /histomics_label/project makes it
    (through the model, so that tests may use either the ``server`` or the ``boundServer`` fixture)."""
    from girder.models.folder import Folder

    from histomics_label.models.project import Project
    from histomics_label.models.slide import ProjectSlide

    folder = Folder().load(slide_item['folderId'], force=True)
    project = Project().create(folder, admin, 'Study')
    ProjectSlide().sync(project, folder)
    return project


SUPERPIXELS = 100  # a 10 x 10 grid of 200 x 250 px superpixels on the synthetic segmentation


@pytest.fixture
def segmented(project, slide_item):
    """Give the project's slide a synthetic segmentation (what the segmentation job stores)."""
    import numpy as np

    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    slide = ProjectSlide().findOne({'itemId': slide_item['_id']})
    grid = np.array([(i % 10, i // 10) for i in range(SUPERPIXELS)], dtype=float)
    centroids = grid * [200, 250] + [100, 125]
    bboxes = np.hstack([centroids - [100, 125], centroids + [100, 125]])
    return SuperpixelGeometry().store(slide, centroids, bboxes)
