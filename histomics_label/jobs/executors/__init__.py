"""Executors: the ways a CLI run becomes a queued Girder job (``base.Executor``): ``local`` (a girder_worker
task that runs the CLI as a subprocess of the worker) and ``slicer_cli`` (a slicer_cli_web Docker job)."""
