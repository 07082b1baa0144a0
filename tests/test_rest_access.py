"""Every project route refuses anonymous callers (401), users without read access on the project folder
(403), and, for routes that change anything, users with read access only (403); nothing gets written."""
import json

import pytest
from pytest_girder.assertions import assertStatus

from plugin_routes import coverage_gaps

READ, WRITE, ADMIN = 'read', 'write', 'admin'
ROUTES = [  # method, path under /histomics_label (project, item, category ids filled in), level needed
    ('GET', 'project/{p}', READ),
    ('PUT', 'project/{p}', ADMIN),
    ('DELETE', 'project/{p}', ADMIN),
    ('GET', 'project/{p}/status', READ),
    ('POST', 'project/{p}/slides', WRITE),
    ('GET', 'project/{p}/category', READ),
    ('POST', 'project/{p}/category', WRITE),
    ('PUT', 'category/{c}', WRITE),
    ('POST', 'category/{c}/merge', ADMIN),
    ('POST', 'category/{c}/unmerge', ADMIN),
    ('DELETE', 'category/{c}', ADMIN),
    ('PUT', 'project/{p}/label', WRITE),
    ('GET', 'project/{p}/label', READ),
    ('GET', 'project/{p}/label/history', READ),
    ('GET', 'project/{p}/label/effective', READ),
    ('GET', 'project/{p}/label/counts', READ),
    ('POST', 'project/{p}/label/undo', WRITE),
    ('PUT', 'project/{p}/review', WRITE),
    ('GET', 'project/{p}/review', READ),
    ('GET', 'project/{p}/review/queue', READ),
    ('GET', 'project/{p}/slide/{i}/superpixel/0/image', READ),
    ('POST', 'project/{p}/segment', WRITE),
    ('POST', 'project/{p}/featurize', WRITE),
    ('POST', 'project/{p}/train', WRITE),
    ('POST', 'project/{p}/epoch', WRITE),
    ('GET', 'project/{p}/epoch/1', WRITE),
    ('GET', 'project/{p}/slide/{i}/task/segmentation', WRITE),
    ('POST', 'project/{p}/slide/{i}/superpixels', WRITE),
    ('POST', 'project/{p}/slide/{i}/features', WRITE),
    ('POST', 'project/{p}/epoch/1/predictions', WRITE),
    ('GET', 'project/{p}/next', READ),
    ('GET', 'project/{p}/slide/{i}/predictions', READ),
    ('POST', 'project/{p}/annotations', WRITE),
    ('POST', 'project/{p}/import_v1', ADMIN),
    ('GET', 'project/{p}/agreement', READ),
    ('POST', 'project/{p}/export', WRITE),
    ('GET', 'project/{p}/export', READ),
    ('POST', 'project/{p}/slide/{i}/import', WRITE),
    ('GET', 'project/{p}/slide/{i}/import', READ),
    ('GET', 'project/{p}/study', READ),
    ('PUT', 'project/{p}/study', ADMIN),
    ('GET', 'project/{p}/assignment', READ),
    ('POST', 'project/{p}/assignment', ADMIN),
    ('DELETE', 'project/{p}/assignment/' + '0' * 24, ADMIN),
    ('GET', 'project/{p}/queue', READ),
    ('GET', 'project/{p}/dashboard', READ),
    ('GET', 'project/{p}/quality', READ),
    ('POST', 'project/{p}/epoch/1/quality', WRITE),
    ('POST', 'project', ADMIN),  # on the project's folder (folderId)
    ('POST', 'slide/{i}/tissue_detection', WRITE),  # on the slide item, which inherits the folder's access
]
EXEMPT = {  # routes of the plugin ROUTES leaves out, and why
    ('GET', 'project'),  # lists the projects the caller can read (test_rest_project: test_access_follows_the_folder)
    ('GET', 'cli'),  # the catalog of Slicer CLIs the plugin ships: the same for every logged-in user
}
PARAMS = {'itemId': None, 'name': 'X', 'into': None, 'outputs': '{}', 'fileId': '0' * 24, 'folderId': None}


def snapshot():
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label
    from histomics_label.models.project import Project
    from histomics_label.models.review import Review

    return [list(model().find({})) for model in (Project, Category, Label, Review)]


@pytest.mark.plugin('histomics_label')
def test_every_route_checks_access(server, admin, labeler, project, segmented):
    from girder.constants import AccessType
    from girder.models.folder import Folder

    from histomics_label.models.category import Category

    category = Category().create(project, 'Tumor')
    other = Category().create(project, 'Stroma')
    ids = {'p': project['_id'], 'i': segmented['itemId'], 'c': category['_id']}
    params = dict(PARAMS, itemId=str(segmented['itemId']), into=str(other['_id']),
                  folderId=str(project['folderId']))
    body = json.dumps({'itemId': str(segmented['itemId']), 'labels': [{'superpixel': 0, 'categoryId': str(
        category['_id'])}], 'reviews': [{'superpixel': 0, 'verdict': 'flag'}]})
    folder = Folder().load(project['folderId'], force=True)
    Folder().setPublic(folder, False, save=True)
    before = snapshot()

    def call(method, template, user):
        kwargs = {'type': 'application/json', 'body': body} if method == 'PUT' and template.endswith(
            ('label', 'review')) else {'params': params}
        return server.request('/histomics_label/' + template.format(**ids), method=method, user=user, **kwargs)

    for method, template, level in ROUTES:
        assertStatus(call(method, template, None), 401)
        assertStatus(call(method, template, labeler), 403)  # no access to the private folder
    Folder().setUserAccess(folder, labeler, AccessType.READ, save=True)
    for method, template, level in ROUTES:
        if level != READ:
            assertStatus(call(method, template, labeler), 403)
    Folder().setUserAccess(folder, labeler, AccessType.WRITE, save=True)
    for method, template, level in ROUTES:
        if level == ADMIN:
            assertStatus(call(method, template, labeler), 403)
    assert snapshot() == before


@pytest.mark.plugin('histomics_label')
def test_routes_lists_every_route_of_the_plugin(server):
    missing, stale = coverage_gaps([(method, path) for method, path, _ in ROUTES], EXEMPT)
    assert missing == [], 'routes to add to ROUTES (or to EXEMPT, with the reason)'
    assert stale == [], 'ROUTES entries that reach no route'


@pytest.mark.plugin('histomics_label')
@pytest.mark.parametrize('route, refusal', [
    ('slide/{i}/import', 'The import covers no superpixel'),  # an imported prediction source
    ('epoch/1/predictions', 'is not a predictions .npz'),  # a training epoch's predictions
])
def test_a_file_a_route_reads_needs_read_access_on_it(server, admin, labeler, project, segmented, route, refusal):
    """Routes that read a file declare read access on it in the route, like the project's level: a labeler
    who may run the pipeline cannot have another user's private file read (403, nothing written)."""
    import io

    from girder.constants import AccessType
    from girder.models.folder import Folder
    from girder.models.upload import Upload

    from histomics_label.models.prediction import Prediction

    Folder().setUserAccess(Folder().load(project['folderId'], force=True), labeler, AccessType.WRITE, save=True)
    private = Folder().createFolder(admin, 'Models', parentType='user', public=False, creator=admin)
    content = json.dumps({'type': 'FeatureCollection', 'features': []}).encode()
    file = Upload().uploadFromFile(io.BytesIO(content), len(content), 'model.geojson', parentType='folder',
                                   parent=private, user=admin)
    path = '/histomics_label/project/%s/%s' % (project['_id'], route.format(i=segmented['itemId']))
    before = snapshot(), Prediction().find({}).count()
    resp = server.request(path, method='POST', user=labeler, params={'fileId': str(file['_id'])})
    assertStatus(resp, 403)
    assert resp.json['message'].startswith('Read access denied for folder %s' % private['_id'])
    assert (snapshot(), Prediction().find({}).count()) == before
    # with read access on it the same request reaches the handler, which refuses the content (400, not 403)
    Folder().setUserAccess(private, labeler, AccessType.READ, save=True)
    resp = server.request(path, method='POST', user=labeler, params={'fileId': str(file['_id'])})
    assertStatus(resp, 400)
    assert refusal in resp.json['message']
    assert (snapshot(), Prediction().find({}).count()) == before
