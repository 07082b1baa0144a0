"""devops/build_client.py --plugin-only installs the client dependencies a staged build lacks (e.g. Chart.js
added to web_client/package.json after the last full build), without touching packages already staged."""
import importlib.util
import json
import os
import pathlib

from conftest import REPO


def _build_client_module():
    """devops/build_client.py as a module (devops/ is not a package)."""
    spec = importlib.util.spec_from_file_location('build_client', os.path.join(REPO, 'devops', 'build_client.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_dependencies_are_installed_beside_the_staged_ones(tmp_path, monkeypatch):
    build_client = _build_client_module()
    source, staging = tmp_path / 'web_client', tmp_path / 'staging'
    source.mkdir()
    (source / 'package.json').write_text(json.dumps({'dependencies': {
        'vue': '~2.6.14', 'chart.js': '2.9.4', '@scope/tool': '1.0.0'}}))
    (staging / 'node_modules' / 'vue').mkdir(parents=True)
    (staging / 'node_modules' / 'moment').mkdir()
    (staging / 'node_modules' / 'moment' / 'staged').write_text('kept')
    monkeypatch.setattr(build_client, 'STAGING', str(staging))
    monkeypatch.setattr(build_client, 'plugin_source', lambda: str(source))
    assert build_client.missing_dependencies() == ['@scope/tool@1.0.0', 'chart.js@2.9.4']

    commands = []

    def fake_npm(command, env):
        """What npm leaves in the scratch prefix: the packages asked for and their dependencies."""
        commands.append(command)
        modules = pathlib.Path(command[command.index('--prefix') + 1]) / 'node_modules'
        for package in ('chart.js', 'moment', '@scope/tool', '.bin'):
            (modules / package).mkdir(parents=True)
            (modules / package / 'index.js').write_text('scratch')

    monkeypatch.setattr(build_client.subprocess, 'check_call', fake_npm)
    build_client.install_missing_dependencies({})
    assert commands[0][:2] == ['npm', 'install'] and commands[0][-2:] == ['@scope/tool@1.0.0', 'chart.js@2.9.4']
    staged = staging / 'node_modules'
    assert (staged / 'chart.js' / 'index.js').read_text() == 'scratch'
    assert (staged / '@scope' / 'tool' / 'index.js').read_text() == 'scratch'
    assert sorted(p.name for p in (staged / 'moment').iterdir()) == ['staged']  # an existing package is kept
    assert not (staged / '.bin').exists()
    assert build_client.missing_dependencies() == []

    commands.clear()
    build_client.install_missing_dependencies({})  # nothing missing: npm is not run
    assert commands == []
