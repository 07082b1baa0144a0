"""The package has no import cycle: the graph of imports between its modules (read from the source with ast,
imports inside functions included) is acyclic, and every module of ``histomics_label.jobs`` imports on its
own in a fresh interpreter."""
import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: source folder -> package name (the CLIs live at the top level and ship as ``histomics_label.cli``)
SOURCES = {os.path.join(ROOT, 'histomics_label'): 'histomics_label', os.path.join(ROOT, 'cli'): 'histomics_label.cli'}


def package_modules():
    """Dotted module name -> (source path, is a package) for every module of the package."""
    modules = {}
    for folder, package in SOURCES.items():
        for directory, subdirs, files in os.walk(folder):
            subdirs[:] = [d for d in subdirs if d not in ('node_modules', '__pycache__', 'web_client')]
            prefix = package + ''.join('.' + part for part in os.path.relpath(directory, folder).split(os.sep)
                                       if part != '.')
            for name in files:
                if name == '__init__.py':
                    modules[prefix] = (os.path.join(directory, name), True)
                elif name.endswith('.py'):
                    modules[prefix + '.' + name[:-3]] = (os.path.join(directory, name), False)
    return modules


def imported_modules(module, path, is_package, modules):
    """(imported module of the package, line, inside a function or not) for each import statement."""
    tree = ast.parse(open(path).read(), path)
    nested = {id(node) for scope in ast.walk(tree) if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(scope)}
    package = module if is_package else module.rpartition('.')[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit('.', node.level - 1)[0] if node.level else ''
            source = '.'.join(part for part in (base, node.module) if part)
            # ``from x import y`` imports the module x.y when there is one, else x
            targets = [source + '.' + alias.name if source + '.' + alias.name in modules else source
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target in modules and target != module:
                yield target, node.lineno, id(node) in nested


def import_graph():
    modules = package_modules()
    return {module: {target: (line, nested) for target, line, nested in imported_modules(module, *info, modules)}
            for module, info in modules.items()}


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(graph, component):
    members = set(component)
    return '\n'.join('  %s -> %s (line %d%s)' % (module, target, line, ', in a function' if nested else '')
                     for module in component for target, (line, nested) in sorted(graph[module].items())
                     if target in members)


def test_the_graph_sees_relative_absolute_and_function_level_imports():
    graph = import_graph()
    assert graph['histomics_label.jobs.cli_runner']['histomics_label.jobs.cli_catalog'][1] is False
    assert 'histomics_label.jobs.launcher' in graph['histomics_label.jobs.pipeline']
    assert 'histomics_label.cli.support' in graph['histomics_label.cli.TissueDetection.TissueDetection']
    assert cycles({'a': {'b': 0}, 'b': {'c': 0}, 'c': {'a': 0}, 'd': {'a': 0}}) == [['a', 'b', 'c']]


def assert_acyclic(graph):
    found = cycles(graph)
    assert not found, 'Import cycles:\n' + '\n'.join(describe(graph, component) for component in found)


def test_the_jobs_package_has_no_import_cycle():
    jobs = {module: targets for module, targets in import_graph().items() if module.startswith('histomics_label.jobs')}
    assert_acyclic({module: {target: edge for target, edge in targets.items() if target in jobs}
                    for module, targets in jobs.items()})


def test_the_package_has_no_import_cycle():
    assert_acyclic(import_graph())


@pytest.mark.parametrize('module', sorted(m for m in package_modules() if m.startswith('histomics_label.jobs')))
def test_each_jobs_module_imports_on_its_own(module):
    result = subprocess.run([sys.executable, '-c', 'import ' + module], capture_output=True, text=True, cwd=ROOT,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_only_the_clis_import_the_cli_package():
    """``histomics_label.cli`` exists only in an installed package (the CLIs live in the top-level cli/): a
    server or worker module importing it breaks whenever histomics_label is imported from the source tree."""
    graph = import_graph()
    offenders = {module: sorted(t for t in targets if t.startswith('histomics_label.cli'))
                 for module, targets in graph.items() if not module.startswith('histomics_label.cli')}
    assert {module: targets for module, targets in offenders.items() if targets} == {}
