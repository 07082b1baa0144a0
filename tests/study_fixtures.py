"""Fixtures and helpers of the annotation-study tests: a study team with write access on the project folder,
extra synthetic slides, and one-line calls of the API."""
import json

import numpy as np
import pytest
from pytest_girder.assertions import assertStatusOk

from test_rest_predictions import make_arrays, upload_predictions

TEAM = ('lead', 'expert', 'trainee', 'trainee2', 'reviewer', 'outsider')


@pytest.fixture
def team(db, admin, project):
    """Users with write access on the project folder, by name (``outsider`` gets no role), and ``reader``
    with read access only."""
    from girder.constants import AccessType
    from girder.models.folder import Folder
    from girder.models.user import User

    folder = Folder().load(project['folderId'], force=True)
    Folder().setPublic(folder, False)
    users = {}
    for name in TEAM + ('reader',):
        users[name] = User().createUser(name, 'password', name.title(), 'User', '%s@example.com' % name)
        Folder().setUserAccess(folder, users[name], AccessType.READ if name == 'reader' else AccessType.WRITE,
                               save=False)
    Folder().save(folder)
    return users


def call(server, user, project, path, method='GET', body=None, **params):
    """A request to ``/histomics_label/project/{id}{path}`` (a JSON body when given)."""
    kwargs = {'params': params}
    if body is not None:
        kwargs.update(type='application/json', body=json.dumps(body))
    return server.request('/histomics_label/project/%s%s' % (project['_id'], path), method=method, user=user,
                          **kwargs)


def ok(resp):
    assertStatusOk(resp)
    return resp.json


def set_roles(server, admin, project, team, blinded=False, routing=False, **extra):
    """Give the team its roles (trainee2 is a trainee too; outsider none) through PUT study."""
    roles = {str(team[name]['_id']): [name.rstrip('2')] for name in TEAM if name != 'outsider'}
    return ok(call(server, admin, project, '/study', 'PUT', dict(
        {'roles': roles, 'blinded': blinded, 'routing': routing}, **extra)))


def add_slides(project, count, superpixels=100):
    """``count`` more segmented slides (synthetic items and a grid of superpixels each)."""
    from girder.models.folder import Folder
    from girder.models.item import Item
    from girder.models.user import User

    from histomics_label.models.slide import ProjectSlide
    from histomics_label.models.superpixels import SuperpixelGeometry

    folder = Folder().load(project['folderId'], force=True)
    creator = User().load(project['creatorId'], force=True)
    start = max(s['index'] for s in ProjectSlide().list(project)) + 1
    slides = []
    for index in range(start, start + count):
        item = Item().createItem('synthetic %d' % index, creator, folder)
        slide = ProjectSlide().save({
            'projectId': project['_id'], 'itemId': item['_id'], 'name': item['name'], 'index': index,
            'superpixelCount': None, 'epoch': None, 'segmentation': {'status': 'pending'},
            'features': {'status': 'pending'}})
        centroids = np.array([(i % 10 * 20 + 10, i // 10 * 20 + 10) for i in range(superpixels)], dtype=float)
        slides.append(SuperpixelGeometry().store(slide, centroids, np.hstack([centroids - 10, centroids + 10])))
    return slides


def label(server, user, project, item_id, pairs, expect_ok=True):
    """PUT labels [(superpixel, category id)] on one slide."""
    resp = call(server, user, project, '/label', 'PUT', {'itemId': str(item_id), 'labels': [
        {'superpixel': int(sp), 'categoryId': category} for sp, category in pairs]})
    if expect_ok:
        assertStatusOk(resp)
    return resp


def ingest_predictions(server, admin, project, category_ids, arrays=None, epoch=1):
    """Store and publish an epoch of predictions for the project's first slide; returns the arrays."""
    arrays = make_arrays(category_ids) if arrays is None else arrays
    file = upload_predictions(admin, project['folderId'], arrays)
    ok(call(server, admin, project, '/epoch/%d/predictions' % epoch, 'POST', fileId=str(file['_id'])))
    return arrays
