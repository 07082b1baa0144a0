"""The built wheel: it ships the whole web client and every CLI, keeps mongomock out of the core
requirements, and its client builds from the installed copy.

The install tests pip-install the wheel with its declared dependencies (under requirements/constraints.txt)
into a fresh venv, then run the full `girder build` there with devops/build_client.py: that venv's own
staging and static folder, this venv's left untouched. Time and disk of the two steps go to
test-artifacts/wheel_build.json.
"""
import email.parser
import glob
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
import zipfile

import pytest

from conftest import ARTIFACTS, REPO

BUILD_INPUTS = ('setup.py', 'MANIFEST.in', 'README.md', 'histomics_label', 'web_client', 'cli')
ASSET_PROBES = ('probe.png', 'probe.svg', 'probe.css', 'probe.woff2')
NOT_SHIPPED = shutil.ignore_patterns('node_modules', '__pycache__', '*.pyc', '*.egg-info', 'build', 'dist')


def _source_files(folder):
    """Files under REPO/folder that must ship, as paths relative to REPO."""
    found = []
    for root, dirs, files in os.walk(os.path.join(REPO, folder)):
        dirs[:] = [d for d in dirs if d not in ('node_modules', '__pycache__')]
        found += [os.path.relpath(os.path.join(root, f), REPO) for f in files if not f.endswith('.pyc')]
    return found


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """Build the wheel from a copy of the build inputs (the checkout gets no build/ or egg-info)."""
    source = tmp_path_factory.mktemp('source')
    for name in BUILD_INPUTS:
        path = os.path.join(REPO, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name, ignore=NOT_SHIPPED)
        else:
            shutil.copy(path, source / name)
    # asset types the client has no file of yet must ship too, at any depth
    assets = source / 'web_client' / 'assets' / 'icons'
    assets.mkdir(parents=True)
    for name in ASSET_PROBES:
        (assets / name).write_bytes(b'probe')
    # a client node_modules (left by a local npm install) must not ship
    (source / 'web_client' / 'node_modules' / 'left-over').mkdir(parents=True)
    (source / 'web_client' / 'node_modules' / 'left-over' / 'index.js').write_text('module.exports = 1;\n')
    dist = tmp_path_factory.mktemp('dist')
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '-v', '--no-deps', '--no-build-isolation', '--no-index',
         '-w', str(dist), str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    # -v shows setuptools' output: no folder may be left out of `packages` (then it ships by accident only)
    assert 'is absent from the `packages` configuration' not in result.stdout + result.stderr
    wheels = list(dist.glob('histomics_label-*.whl'))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_ships_the_client_and_the_clis(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {'histomics_label/' + path for path in _source_files('web_client') + _source_files('cli')}
    assert expected - names == set()
    for nested in ('web_client/components/LabelingPanel.vue', 'web_client/stylesheets/histomicsLabel.styl',
                   'web_client/views/labelingSession.js', 'web_client/package.json', 'web_client/webpack.helper.js',
                   'cli/slicer_cli_list.json', 'cli/Dockerfile'):
        assert 'histomics_label/' + nested in names
    with open(os.path.join(REPO, 'cli', 'slicer_cli_list.json')) as f:
        clis = json.load(f)
    assert clis
    for cli in clis:
        for ext in ('py', 'xml'):
            assert 'histomics_label/cli/%s/%s.%s' % (cli, cli, ext) in names
    for name in ASSET_PROBES:
        assert 'histomics_label/web_client/assets/icons/' + name in names
    assert not [name for name in names if 'node_modules' in name or name.endswith('.pyc')]
    assert 'histomics_label/plugin.py' in names


def test_mongomock_is_only_a_demo_and_test_extra(wheel):
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith('.dist-info/METADATA'))
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    requirements = metadata.get_all('Requires-Dist')
    mongomock = sorted(r for r in requirements if r.startswith('mongomock'))
    assert mongomock == ['mongomock==4.3.0; extra == "demo"', 'mongomock==4.3.0; extra == "test"']
    assert {'demo', 'test'} <= set(metadata.get_all('Provides-Extra'))
    assert any(r.startswith('girder') and 'extra' not in r for r in requirements)


def _du_mb(path):
    return round(sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names
                     if not os.path.islink(os.path.join(root, name))) / 2 ** 20)


@pytest.fixture(scope='module')
def fresh_venv(wheel, tmp_path_factory):
    """A new venv holding the wheel and the dependencies it declares, resolved by pip under the project's
    constraints: nothing comes from this venv (its own girder, so its own `girder build` staging)."""
    venv = tmp_path_factory.mktemp('venv')
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True, timeout=120)
    python = str(venv / 'bin' / 'python')
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, '-m', 'pip', '--python', python, 'install', '-q', '-c',
         os.path.join(REPO, 'requirements', 'constraints.txt'), str(wheel)],
        capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    site_packages = subprocess.run(
        [python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
        capture_output=True, text=True, check=True, cwd=str(venv)).stdout.strip()
    yield {'python': python, 'prefix': str(venv), 'site_packages': site_packages,
           'install_seconds': round(time.monotonic() - started, 1)}
    shutil.rmtree(venv, ignore_errors=True)  # ~0.9 GB once the client is built


def _fresh_env():
    """No PYTHONPATH: only the fresh venv's sys.path decides what is imported."""
    return {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}


def _run_in(venv, code):
    # cwd: `python -c` puts the working directory first on sys.path, and the checkout holds histomics_label/
    result = subprocess.run([venv['python'], '-c', code], capture_output=True, text=True, timeout=300,
                            cwd=venv['prefix'], env=_fresh_env())
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_fresh_venv_uses_the_wheel_copy(fresh_venv):
    report = json.loads(_run_in(fresh_venv, (
        'import json, importlib.metadata, girder, histomics_label.plugin as p\n'
        'from girder.plugin import getPlugin\n'
        'dist = importlib.metadata.distribution("histomics-label")\n'
        'print(json.dumps({"module": p.__file__, "client": p.client_source_dir(), "girder": girder.__file__,\n'
        '    "dist": str(dist.locate_file("")), "npm": getPlugin("histomics_label").npmPackages()}))\n')))
    wheel_package = os.path.join(fresh_venv['site_packages'], 'histomics_label')
    assert report['module'] == os.path.join(wheel_package, 'plugin.py')
    assert report['client'] == os.path.join(wheel_package, 'web_client')
    assert report['girder'] == os.path.join(fresh_venv['site_packages'], 'girder', '__init__.py')
    assert os.path.realpath(report['dist']) == os.path.realpath(fresh_venv['site_packages'])
    # what `girder build` puts in its package.json: our client is the wheel's
    assert report['npm'] == {'@girder/histomics_label': 'file:' + report['client']}


def _this_venvs_build():
    """What a build in another venv must leave alone: this venv's staging and built client (path -> mtime)."""
    from girder.cli import build as girder_build
    from girder.constants import STATIC_ROOT_DIR

    staging = girder_build._GIRDER_BUILD_ASSETS_PATH
    paths = [os.path.join(staging, 'package.json'), os.path.join(staging, 'node_modules', '@girder'),
             os.path.join(staging, 'node_modules', '@girder', 'histomics_label', 'package.json'),
             os.path.join(STATIC_ROOT_DIR, 'built', 'girder_lib.min.js')]
    paths += glob.glob(os.path.join(STATIC_ROOT_DIR, 'built', 'plugins', '*', 'plugin.min.*'))
    return {path: os.stat(path).st_mtime_ns for path in paths if os.path.exists(path)}


@pytest.mark.slow
def test_the_full_client_builds_from_the_wheel(fresh_venv):
    """`girder build` (devops/build_client.py without --plugin-only) in the fresh venv: npm install of the
    meta-build and webpack of girder and every plugin, into that venv's staging and static folder."""
    before = _this_venvs_build()
    # a marker that exists only in the installed wheel's copy of the client
    probe = 'hl-wheel-probe-%s' % uuid.uuid4().hex[:12]
    client = os.path.join(fresh_venv['site_packages'], 'histomics_label', 'web_client')
    with open(os.path.join(client, 'stylesheets', 'histomicsLabel.styl'), 'a') as f:
        f.write('\n.%s\n  color red\n' % probe)
    started = time.monotonic()
    result = subprocess.run(  # the npm cache is warm after devops/install.sh: no need to revalidate it
        [fresh_venv['python'], os.path.join(REPO, 'devops', 'build_client.py')], capture_output=True,
        text=True, timeout=1800, cwd=fresh_venv['prefix'], env=dict(_fresh_env(), npm_config_prefer_offline='true'))
    seconds = round(time.monotonic() - started, 1)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    staging = os.path.join(fresh_venv['site_packages'], 'girder', 'web_client')
    with open(os.path.join(staging, 'package.json')) as f:
        assert json.load(f)['dependencies']['@girder/histomics_label'] == 'file:' + client
    built = os.path.join(fresh_venv['prefix'], 'share', 'girder', 'static', 'built')
    assert os.path.isfile(os.path.join(built, 'girder_lib.min.js'))
    for plugin in ('jobs', 'worker', 'slicer_cli_web', 'large_image', 'large_image_annotation', 'histomicsui',
                   'histomics_label'):
        assert os.path.isfile(os.path.join(built, 'plugins', plugin, 'plugin.min.js')), plugin
    bundle = os.path.join(built, 'plugins', 'histomics_label')
    with open(os.path.join(bundle, 'plugin.min.css')) as f:
        assert probe in f.read()
    with open(os.path.join(bundle, 'plugin.min.js')) as f:
        script = f.read()
    assert 'h-hl-projects' in script  # ProjectList.vue's compiled template
    # Vue comes from large_image's bundle (through the DLL reference), never a copy of our own
    assert 'girder_plugin_large_image' in script
    assert 'Vue.js v2' not in script
    assert _this_venvs_build() == before
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, 'wheel_build.json'), 'w') as f:
        json.dump({'install_seconds': fresh_venv['install_seconds'], 'build_seconds': seconds,
                   'venv_mb': _du_mb(fresh_venv['prefix']), 'staging_mb': _du_mb(staging),
                   'built_mb': _du_mb(built)}, f, indent=1)
