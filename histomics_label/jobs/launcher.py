"""Girder-side entry point: run one of our CLIs as a Girder job on the site's executor.

Every job runs a CLI in Girder mode: it gets ids and settings plus the API URL and a token, and does its own
I/O. The ``histomics_label.cli_image`` setting chooses the executor: the CLI image registered in
slicer_cli_web when it names one (Docker on a DSA site), else the local executor on the girder_worker worker.
"""
from girder.models.setting import Setting

from ..settings import CLI_IMAGE
from .cli_catalog import cli_longflags
from .executors.local import LocalExecutor
from .executors.slicer_cli import SlicerCliExecutor


def site_executor():
    """The executor the site's settings choose."""
    image = Setting().get(CLI_IMAGE)
    return SlicerCliExecutor(image) if image else LocalExecutor()


def launch_cli(name, parameters, user, title, details):
    """Run CLI ``name`` in Girder mode with ``parameters`` (CLI parameter name -> value) for ``user``, on the
    site's executor. Returns the Girder job; its ``histomicsLabel`` field holds ``details`` and the CLI name.
    ValueError for an unknown CLI or parameter; a 503 RestException (the job, if created, marked failed)
    when the job queue is unreachable."""
    unknown = sorted(set(parameters) - set(cli_longflags(name)))
    if unknown:
        raise ValueError('CLI %s has no parameter %s' % (name, ', '.join(unknown)))
    return site_executor().launch(name, parameters, user, title, dict(details, cli=name))
