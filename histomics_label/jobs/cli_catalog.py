"""The Slicer CLIs shipped with the package (``cli/`` in the source tree, ``histomics_label.cli`` installed)."""
import functools
import importlib.resources
import json
import os

import ctk_cli


def cli_root():
    """Folder holding ``slicer_cli_list.json`` and one sub-folder per CLI."""
    return str(importlib.resources.files('histomics_label.cli'))


@functools.lru_cache(maxsize=1)
def cli_names():
    with open(os.path.join(cli_root(), 'slicer_cli_list.json')) as f:
        return tuple(sorted(json.load(f)))


def cli_script(name):
    """Path of the CLI's Python script; ValueError for an unknown CLI."""
    if name not in cli_names():
        raise ValueError('Unknown CLI %r; known: %s' % (name, ', '.join(cli_names())))
    return os.path.join(cli_root(), name, name + '.py')


@functools.lru_cache(maxsize=None)
def cli_spec(name):
    """Title, description, version and parameter names parsed from the CLI's XML."""
    script = cli_script(name)
    module = ctk_cli.CLIModule(script[:-3] + '.xml')
    return {
        'name': name,
        'title': module.title,
        'description': module.description,
        'version': module.version,
        'category': module.category,
        'parameters': [param.name for group in module for param in group],
    }


@functools.lru_cache(maxsize=None)
def cli_longflags(name):
    """Parameter name -> long flag (``--flag``) of the CLI's flagged parameters."""
    module = ctk_cli.CLIModule(cli_script(name)[:-3] + '.xml')
    return {param.name: '--' + param.longflag.lstrip('-') for group in module for param in group if param.longflag}
