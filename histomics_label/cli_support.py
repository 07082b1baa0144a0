"""Helpers shared by the Slicer CLIs: Slicer progress reporting and writing annotation files.

Imports nothing from girder so the CLIs run unchanged in a DSA Docker image or as plain subprocesses.
"""
import json
import sys


def report_progress(fraction, comment=None, stream=None):
    """Print a Slicer ``<filter-progress>`` line (fraction in [0, 1]) that job runners parse."""
    stream = stream or sys.stdout
    if comment:
        stream.write('<filter-comment>%s</filter-comment>\n' % comment)
    stream.write('<filter-progress>%.4f</filter-progress>\n' % min(max(float(fraction), 0.0), 1.0))
    stream.flush()


def write_annotation_file(path, annotation):
    """Write a large_image annotation (dict or list of dicts) as an ``.anot`` JSON file."""
    with open(path, 'w') as f:
        json.dump(annotation, f, separators=(',', ':'))
