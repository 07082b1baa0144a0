"""The girder_client example of docs/studies.md runs as written against a live server: it gives roles, assigns
raters, works a rater's queue, reads the dashboard and agreement, adjudicates and downloads an export."""
import os
import re

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import REPO
from test_cards import real_segmentation  # noqa: F401 (fixture)


def example():
    with open(os.path.join(REPO, 'docs', 'studies.md')) as f:
        text = f.read()
    return re.search(r'## A study from a script \(girder_client\).*?```python\n(.*?)```', text, re.S).group(1)


@pytest.mark.plugin('histomics_label')
def test_the_documented_study_script_runs(boundServer, admin, project, real_segmentation, tmp_path,  # noqa: F811
                                          monkeypatch):
    from girder.models.api_key import ApiKey
    from girder.models.folder import Folder
    from girder.models.user import User

    from histomics_label.models.assignment import Assignment
    from histomics_label.models.category import Category
    from histomics_label.models.label import Label
    from histomics_label.models.review import Review
    from histomics_label.models.study import Study
    from histomics_label.models.superpixels import SuperpixelGeometry

    slide, _ = real_segmentation
    categories = [Category().create(project, name) for name in ('Tumor', 'Stroma', 'Necrosis')]
    raters = {login: User().createUser(login, 'password', login.title(), 'R', '%s@example.com' % login)
              for login in ('alice', 'brian', 'carol')}
    # the raters have worked for a while: the first half of the superpixels, mostly agreeing
    rng = np.random.default_rng(0)
    count = slide['superpixelCount']
    truth = rng.integers(0, 3, size=count)
    centroids = SuperpixelGeometry().geometry(slide)[0]
    for rater in raters.values():
        chosen = np.where(rng.random(count) < 0.8, truth, rng.integers(0, 3, size=count))
        Label().write(project, slide, rater, [{'superpixel': sp, 'categoryId': str(categories[chosen[sp]]['_id'])}
                                              for sp in range(count // 2)], Category().list(project), centroids)
    folder = Folder().load(project['folderId'], force=True)
    constants = {
        'API_URL': 'http://127.0.0.1:%d/api/v1' % boundServer.boundPort,
        'LEAD_KEY': ApiKey().createApiKey(admin, 'docs')['key'],
        'RATER_KEY': ApiKey().createApiKey(raters['brian'], 'docs')['key'],
        'FOLDER': '/collection/Slides/%s' % folder['name'],
    }
    code = example()
    for name, value in constants.items():
        code, replaced = re.subn(r'^%s = .*$' % name, '%s = %r' % (name, value), code, flags=re.M)
        assert replaced == 1, name
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, 'docs/studies.md', 'exec'), namespace)  # noqa: S102 (our own documentation)

    study = Study().get(project)
    assert study['blinded'] and study['routing']
    assert {User().load(u, force=True)['login']: roles for u, roles in study['roles'].items()} == {
        'alice': ['expert'], 'brian': ['trainee'], 'carol': ['trainee'], 'admin': ['lead', 'reviewer']}
    assignment = Assignment().findOne({'projectId': project['_id']})
    assert assignment['overlap'] == 2 and assignment['slides'][0]['count'] == 50
    assert namespace['mine']['assigned'] == 50 and namespace['first']['probabilities'] is None
    assert Label().findOne({'userId': raters['brian']['_id'], 'superpixel': namespace['first']['superpixel']})
    assert namespace['agreement']['fleiss']['kappa'] is not None and len(namespace['agreement']['pairs']) == 3
    verdict = Review().findOne({'projectId': project['_id']})
    assert (verdict['superpixel'], verdict['verdict']) == (namespace['top']['superpixel'], 'correct')
    assert namespace['job']['status'] == 3, namespace['job']
    exported = tmp_path / ('export-v%d' % namespace['latest']['version'])
    table = pq.read_table(str(exported / 'superpixels.parquet'))
    assert table.num_rows == count and (exported / 'geojson.zip').is_file()
    assert {u['login']: u['labels'] for u in namespace['board']['users']}['brian'] in (count // 2, count // 2 + 1)
