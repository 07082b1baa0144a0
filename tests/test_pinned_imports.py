"""Every third-party package the plugin, its CLIs and its tests import is pinned in
requirements/constraints.txt, so that devops/install.sh on a new machine installs the versions tested here."""
import ast
import importlib.metadata
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCANNED = ('histomics_label', 'cli', 'tests')
LOCAL = {'histomics_label', 'cli'}
OPTIONAL = {  # imported only where a site provides it, never installed by devops/install.sh
    'timm',  # the UNI backbone, loaded from a local weights path (docs: features)
}


def imported_modules():
    """Top-level names imported (absolutely) by the scanned folders, less the standard library and our own
    (tests import each other and the benchmarks' modules)."""
    local = LOCAL | {path.stem for folder in ('tests', 'benchmarks') for path in (ROOT / folder).rglob('*.py')}
    names = set()
    for folder in SCANNED:
        for path in (ROOT / folder).rglob('*.py'):
            if 'node_modules' in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split('.')[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split('.')[0])
    return names - set(sys.stdlib_module_names) - local - OPTIONAL


def canonical(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def pins():
    """``{canonical name: version}`` of requirements/constraints.txt."""
    lines = (ROOT / 'requirements' / 'constraints.txt').read_text().splitlines()
    return {canonical(name): version for name, version in (line.split('==') for line in lines if '==' in line)}


def test_every_imported_package_is_pinned():
    distributions = importlib.metadata.packages_distributions()
    modules = imported_modules()
    unknown = sorted(name for name in modules if name not in distributions)
    assert unknown == [], 'imported but not installed (install it, or list it in OPTIONAL with the reason)'
    pinned = pins()
    unpinned = sorted(name for name in modules if not any(canonical(d) in pinned for d in distributions[name]))
    assert unpinned == [], 'pin the packages of these imports in requirements/constraints.txt'


def test_pins_are_the_installed_versions():
    installed = {canonical(dist.metadata['Name']): dist.version.split('+')[0]  # torch 2.13.0+cpu
                 for dist in importlib.metadata.distributions()}
    wrong = {name: (version, installed[name]) for name, version in pins().items()
             if name in installed and installed[name] != version}
    assert wrong == {}, 'pin: (constraints, installed)'
