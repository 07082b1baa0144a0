"""How a Slicer CLI of ours becomes a Girder job: the catalog of CLIs, the Girder-side launcher, and the
worker-side task that runs a CLI as a subprocess."""
