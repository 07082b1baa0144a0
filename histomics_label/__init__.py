"""Histomics Label.

The package root imports nothing so that the compute core (``histomics_label.core``) and the CLIs work
without Girder; the Girder plugin lives in :mod:`histomics_label.plugin`.
"""
