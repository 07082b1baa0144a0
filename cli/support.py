"""Helpers shared by the Slicer CLIs: Slicer progress reporting, annotation files and choosing Girder or local mode.

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


def girder_mode(args, key='projectId', flag='--project-id'):
    """True when the CLI was given ``key`` (a project, or an item: Girder mode); exits with a clear message if
    the API URL or token is missing."""
    if not getattr(args, key, None):
        return False
    if not (args.girderApiUrl and args.girderToken):
        sys.exit('Girder mode needs --api-url and --girder-token with %s.' % flag)
    return True


def require_files(args, names, flags, girder='--project-id and --item-id'):
    """Exit with a clear message unless every local-mode file parameter in ``names`` was given."""
    if not all(getattr(args, name, None) for name in names):
        sys.exit('Give %s (Girder mode) or %s.' % (girder, ', '.join(flags)))
