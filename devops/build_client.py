#!/usr/bin/env python
"""Build the Girder 3 + HistomicsUI + Histomics Label web client on node 20 / npm 11.

`girder build` needs four fixes here (see docs/development.md); this script applies them idempotently:
1. skip npm install scripts (geojs' optional native `canvas` cannot build): npm_config_ignore_scripts;
2. webpack 3 hashes with md4, which node 20's OpenSSL 3 refuses: NODE_OPTIONS=--openssl-legacy-provider;
3. girder's babel rule excludes every node_modules path, so the copied @girder/core is not transpiled
   (HistomicsUI then renders blank): narrow the exclude in girder's webpack.config.js (re-applied after
   every reinstall of girder, since the file lives in site-packages);
4. a second backbone copy nested under @girder/histomicsui breaks its router: npm_config_legacy_peer_deps.

Usage: build_client.py [--plugin-only] [--dev]
  --plugin-only re-copies our web_client into the staged node_modules and rebuilds only our bundle (~5 s);
  it falls back to a full build when no full build has been staged yet, and first npm-installs the
  dependencies of web_client/package.json that the staging lacks (added since its full build).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from girder.cli import build as girder_build
from girder.constants import STATIC_ROOT_DIR
from girder.utility import server

STAGING = girder_build._GIRDER_BUILD_ASSETS_PATH
WEBPACK_CONFIG = os.path.join(STAGING, 'grunt_tasks', 'webpack.config.js')
NARROW_EXCLUDE = r'exclude: /node_modules[\\/]@girder[\\/]core[\\/]node_modules/'
PLUGIN_NPM_NAME = '@girder/histomics_label'


def patch_babel_exclude(path=WEBPACK_CONFIG):
    """Fix 3: transpile the copied @girder/core; returns True if the file was changed."""
    with open(path) as f:
        text = f.read()
    patched = re.sub(r'exclude: /node_modules/(?=\s*\n)', lambda m: NARROW_EXCLUDE, text, count=1)
    if patched != text:
        with open(path, 'w') as f:
            f.write(patched)
    if NARROW_EXCLUDE not in patched:
        raise RuntimeError('Could not find the babel exclude rule to patch in %s' % path)
    return patched != text


def build_environment():
    """Fixes 1, 2 and 4 as environment variables for npm and webpack."""
    env = dict(os.environ)
    env['npm_config_ignore_scripts'] = 'true'
    env['npm_config_legacy_peer_deps'] = 'true'
    env['npm_config_fund'] = 'false'
    env['npm_config_audit'] = 'false'
    options = env.get('NODE_OPTIONS', '')
    if '--openssl-legacy-provider' not in options:
        env['NODE_OPTIONS'] = (options + ' --openssl-legacy-provider').strip()
    return env


def plugin_source():
    from histomics_label.plugin import client_source_dir
    return client_source_dir()


def full_build(env, dev=False):
    command = [os.path.join(os.path.dirname(sys.executable), 'girder'), 'build']
    if dev:
        command.append('--dev')
    subprocess.check_call(command, env=env)


def missing_dependencies():
    """`name@version` of each dependency in our package.json that the staged node_modules lacks."""
    with open(os.path.join(plugin_source(), 'package.json')) as f:
        dependencies = json.load(f).get('dependencies', {})
    return ['%s@%s' % (name, version) for name, version in sorted(dependencies.items())
            if not os.path.isdir(os.path.join(STAGING, 'node_modules', *name.split('/')))]


def install_missing_dependencies(env):
    """npm-install the missing dependencies in a scratch folder, then move in the packages the staging lacks
    (an install in the staging itself would rebuild its whole tree, under other builds' feet)."""
    missing = missing_dependencies()
    if not missing:
        return
    staged_modules = os.path.join(STAGING, 'node_modules')
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.check_call(['npm', 'install', '--no-save', '--no-package-lock', '--prefix', scratch] + missing,
                              env=env)
        modules = os.path.join(scratch, 'node_modules')
        for package in _packages(modules):
            target = os.path.join(staged_modules, package)
            if not os.path.exists(target):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.move(os.path.join(modules, package), target)


def _packages(modules):
    """The packages of a node_modules folder, scoped ones as `@scope/name`."""
    for name in sorted(os.listdir(modules)):
        if name.startswith('@'):
            yield from (os.path.join(name, sub) for sub in sorted(os.listdir(os.path.join(modules, name))))
        elif not name.startswith('.'):
            yield name


def plugin_build(env, dev=False):
    """Re-copy our client into node_modules (a symlink breaks vue-loader) and rebuild only its bundle."""
    target = os.path.join(STAGING, 'node_modules', *PLUGIN_NPM_NAME.split('/'))
    install_missing_dependencies(env)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(plugin_source(), target, ignore=shutil.ignore_patterns('__pycache__', '*.py'))
    subprocess.check_call([
        'npm', 'run', 'build', '--',
        '--girder-version=%s' % girder_build.girder.__version__,
        '--static-path=%s' % STATIC_ROOT_DIR,
        '--static-public-path=%s' % server.getStaticPublicPath(),
        '--no-progress=true',
        '--env=%s' % ('dev' if dev else 'prod'),
        'webpack:plugin_histomics_label',
    ], cwd=STAGING, env=env)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--plugin-only', action='store_true')
    parser.add_argument('--dev', action='store_true')
    args = parser.parse_args(argv)
    if shutil.which('npm') is None:
        parser.error('npm is required (Node.js 20); install it first.')
    patch_babel_exclude()
    env = build_environment()
    staged = os.path.isdir(os.path.join(STAGING, 'node_modules', '@girder', 'histomicsui'))
    built = os.path.isfile(os.path.join(STATIC_ROOT_DIR, 'built', 'plugins', 'histomicsui', 'plugin.min.js'))
    if args.plugin_only and staged and built:
        plugin_build(env, args.dev)
    else:
        full_build(env, args.dev)


if __name__ == '__main__':
    main()
