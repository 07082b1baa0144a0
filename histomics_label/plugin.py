"""Girder plugin entry point: loads HistomicsUI (and through it large_image, annotations,
slicer_cli_web, jobs and worker) and mounts the Histomics Label REST resources."""
import json
import os

from girder.plugin import GirderPlugin, getPlugin

from . import handlers, settings  # noqa: F401  (settings registers the setting validators)
from .rest import HistomicsLabelResource


def client_source_dir():
    """The web client source: inside the installed package, or beside it in a source checkout."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(package_dir, 'web_client'),
                      os.path.join(os.path.dirname(package_dir), 'web_client')):
        if os.path.isfile(os.path.join(candidate, 'package.json')):
            return candidate
    raise FileNotFoundError('The Histomics Label web client (web_client/package.json) is missing.')


class HistomicsLabelPlugin(GirderPlugin):
    DISPLAY_NAME = 'Histomics Label'
    CLIENT_SOURCE_PATH = 'web_client'

    def npmPackages(self):
        source = client_source_dir()
        with open(os.path.join(source, 'package.json')) as f:
            return {json.load(f)['name']: 'file:%s' % source}

    def load(self, info):
        for dependency in ('histomicsui', 'worker'):
            getPlugin(dependency).load(info)
        info['apiRoot'].histomics_label = HistomicsLabelResource()
        handlers.bind()
