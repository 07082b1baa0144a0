"""girder_worker plugin: tells a Celery worker which task modules of ours to import."""
from girder_worker import GirderWorkerPluginABC


class HistomicsLabelWorkerPlugin(GirderWorkerPluginABC):
    def __init__(self, app, *args, **kwargs):
        self.app = app

    def task_imports(self):
        return ['histomics_label.jobs.worker_tasks', 'histomics_label.jobs.trainer']
