"""The built wheel: it ships the whole web client and every CLI, keeps mongomock out of the core
requirements, and its client builds from the installed copy.

The install test puts the wheel into a fresh venv whose other dependencies come from this venv (a .pth
line after the fresh site-packages, so the wheel's histomics_label shadows this checkout's), then builds
our plugin bundle there with devops/build_client.py --plugin-only (the `girder build` target of our
plugin, ~10 s), writing into the fresh venv's static folder.
"""
import email.parser
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
import zipfile

import pytest

from conftest import REPO

BUILD_INPUTS = ('setup.py', 'MANIFEST.in', 'README.md', 'histomics_label', 'web_client', 'cli')
ASSET_PROBES = ('probe.png', 'probe.svg', 'probe.css', 'probe.woff2')
NOT_SHIPPED = shutil.ignore_patterns('node_modules', '__pycache__', '*.pyc', '*.egg-info', 'build', 'dist')


def _build_client_module():
    spec = importlib.util.spec_from_file_location('build_client', os.path.join(REPO, 'devops', 'build_client.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


@pytest.fixture(scope='module')
def fresh_venv(wheel, tmp_path_factory):
    """A new venv holding only the wheel; every other dependency is this venv's, after it on sys.path."""
    venv = tmp_path_factory.mktemp('venv')
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True, timeout=120)
    python = str(venv / 'bin' / 'python')
    result = subprocess.run(
        [sys.executable, '-m', 'pip', '--python', python, 'install', '--no-deps', '--no-index', str(wheel)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    site_packages = subprocess.run(
        [python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
        capture_output=True, text=True, check=True, cwd=str(venv)).stdout.strip()
    with open(os.path.join(site_packages, 'main-venv.pth'), 'w') as f:
        f.write(sysconfig.get_path('purelib') + '\n')
    return {'python': python, 'prefix': str(venv), 'site_packages': site_packages}


def _fresh_env():
    """No PYTHONPATH: only the fresh venv's sys.path decides what is imported."""
    return {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}


def _run_in(venv, code):
    # cwd: `python -c` puts the working directory first on sys.path, and the checkout holds histomics_label/
    result = subprocess.run([venv['python'], '-c', code], capture_output=True, text=True, timeout=300,
                            cwd=venv['prefix'], env=_fresh_env())
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_fresh_venv_uses_the_wheel_copy(fresh_venv):
    report = json.loads(_run_in(fresh_venv, (
        'import json, importlib.metadata, histomics_label.plugin as p\n'
        'from girder.plugin import getPlugin\n'
        'dist = importlib.metadata.distribution("histomics-label")\n'
        'print(json.dumps({"module": p.__file__, "client": p.client_source_dir(),\n'
        '    "dist": str(dist.locate_file("")), "npm": getPlugin("histomics_label").npmPackages()}))\n')))
    wheel_package = os.path.join(fresh_venv['site_packages'], 'histomics_label')
    assert report['module'] == os.path.join(wheel_package, 'plugin.py')
    assert report['client'] == os.path.join(wheel_package, 'web_client')
    assert os.path.realpath(report['dist']) == os.path.realpath(fresh_venv['site_packages'])
    # what `girder build` puts in its package.json: our client is the wheel's
    assert report['npm'] == {'@girder/histomics_label': 'file:' + report['client']}


@pytest.mark.slow
def test_client_builds_from_the_wheel(fresh_venv):
    from girder.constants import STATIC_ROOT_DIR

    build_client = _build_client_module()
    staged = os.path.join(build_client.STAGING, 'node_modules', *build_client.PLUGIN_NPM_NAME.split('/'))
    assert os.path.isfile(os.path.join(STATIC_ROOT_DIR, 'built', 'plugins', 'histomicsui', 'plugin.min.js')), \
        'the web client is not built in this venv: run devops/install.sh first'
    # the other plugins' bundles and DLL manifests that our bundle links against
    fresh_built = os.path.join(fresh_venv['prefix'], 'share', 'girder', 'static', 'built')
    shutil.copytree(os.path.join(STATIC_ROOT_DIR, 'built'), fresh_built,
                    ignore=lambda folder, names: ['histomics_label'] if folder.endswith('plugins') else [])
    # a marker that exists only in the installed wheel's copy of the client
    probe = 'hl-wheel-probe-%s' % uuid.uuid4().hex[:12]
    stylesheet = os.path.join(fresh_venv['site_packages'], 'histomics_label', 'web_client', 'stylesheets',
                              'histomicsLabel.styl')
    with open(stylesheet, 'a') as f:
        f.write('\n.%s\n  color red\n' % probe)
    try:
        result = subprocess.run(
            [fresh_venv['python'], os.path.join(REPO, 'devops', 'build_client.py'), '--plugin-only'],
            capture_output=True, text=True, timeout=600, cwd=fresh_venv['prefix'], env=_fresh_env())
    finally:
        # the shared build staging gets this checkout's client back, as build_client.py stages it
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(build_client.plugin_source(), staged,
                        ignore=shutil.ignore_patterns('__pycache__', '*.py'))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    bundle = os.path.join(fresh_built, 'plugins', 'histomics_label')
    with open(os.path.join(bundle, 'plugin.min.css')) as f:
        assert probe in f.read()
    with open(os.path.join(bundle, 'plugin.min.js')) as f:
        script = f.read()
    assert 'h-hl-projects' in script  # ProjectList.vue's compiled template
    # Vue comes from large_image's bundle (through the DLL reference), never a copy of our own
    assert 'girder_plugin_large_image' in script
    assert 'Vue.js v2' not in script
