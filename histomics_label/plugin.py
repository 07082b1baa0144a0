"""Girder plugin entry point: loads HistomicsUI (and through it large_image, annotations,
slicer_cli_web, jobs and worker) and mounts the Histomics Label REST resources."""
import json
import os

from girder import events
from girder.plugin import GirderPlugin, getPlugin

from . import settings  # noqa: F401  (registers the setting validators)
from .jobs.pipeline import record_job_failure
from .models.project import Project
from .rest import HistomicsLabelResource


def client_source_dir():
    """The web client source: inside the installed package, or beside it in a source checkout."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(package_dir, 'web_client'),
                      os.path.join(os.path.dirname(package_dir), 'web_client')):
        if os.path.isfile(os.path.join(candidate, 'package.json')):
            return candidate
    raise FileNotFoundError('The Histomics Label web client (web_client/package.json) is missing.')


def _remove_folder_project(event):
    """A project lives and dies with its folder."""
    project = Project().findOne({'folderId': event.info['_id']})
    if project is not None:
        Project().remove(project)


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
        events.bind('model.folder.remove', 'histomics_label', _remove_folder_project)
        events.bind('jobs.job.update.after', 'histomics_label', record_job_failure)
