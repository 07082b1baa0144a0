"""How a Slicer CLI of ours becomes a Girder job: the catalog of CLIs, the launcher that hands a run to the
site's executor (``executors``: local girder_worker task or slicer_cli_web Docker job), and the worker-side
task that runs a CLI as a subprocess."""
