"""The plugin loads inside Girder together with HistomicsUI and the DSA stack."""
import json
import os

import pytest
from pytest_girder.assertions import assertStatusOk

from histomics_label.plugin import client_source_dir


@pytest.mark.plugin('histomics_label')
def test_plugin_loads_histomicsui_and_dependencies(server):
    from girder.plugin import loadedPlugins

    loaded = set(loadedPlugins())
    for name in ('histomics_label', 'histomicsui', 'large_image', 'large_image_annotation',
                 'slicer_cli_web', 'jobs', 'worker'):
        assert name in loaded
    resp = server.request('/describe')
    assertStatusOk(resp)
    paths = resp.json['paths']
    assert '/histomics_label/cli' in paths
    assert '/histomics_label/slide/{itemId}/tissue_detection' in paths
    assert '/annotation' in paths  # large_image_annotation's API is mounted too


def test_web_client_ships_with_the_package():
    source = client_source_dir()
    with open(os.path.join(source, 'package.json')) as f:
        package = json.load(f)
    assert package['girderPlugin']['name'] == 'histomics_label'
    assert 'histomicsui' in package['girderPlugin']['dependencies']
    assert os.path.isfile(os.path.join(source, package['girderPlugin']['main']))
