"""A project's forms in a real browser (tests/browser/project_forms.mjs on the demo server, no worker): the setup
form of a folder (name, categories, the settings each model kind shows, a 400 marking its field), the project's
settings form, and the categories panel's add and edit controls; the server must hold what was entered."""
import os
import subprocess
import sys

import girder_client

from conftest import ARTIFACTS, REPO, free_port

sys.path.insert(0, os.path.join(REPO, 'benchmarks'))
from girder_stack import demo  # noqa: E402

BROWSER_DIR = os.path.join(REPO, 'tests', 'browser')


def test_setup_settings_and_category_forms(tmp_path):
    port = free_port()
    with demo(port, str(tmp_path), '--no-worker'):
        client = girder_client.GirderClient(apiUrl='http://127.0.0.1:%d/api/v1' % port)
        client.authenticate('admin', 'histomics')
        collection = client.get('collection')[0]
        slides = client.get('folder', parameters={'parentType': 'collection', 'parentId': collection['_id']})[0]
        slide = client.get('item', parameters={'folderId': slides['_id']})[0]
        folder = client.createFolder(collection['_id'], 'Forms', parentType='collection')
        client.post('item/%s/copy' % slide['_id'], parameters={'folderId': folder['_id']})
        os.makedirs(ARTIFACTS, exist_ok=True)
        result = subprocess.run(
            ['node', 'project_forms.mjs', 'http://127.0.0.1:%d' % port, client.token, folder['_id'], folder['name'],
             ARTIFACTS], cwd=BROWSER_DIR, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'project forms check passed' in result.stdout
