"""Run a Slicer CLI of ours as a subprocess, streaming its log and ``<filter-progress>`` to callbacks.

Imports nothing from girder: the worker task wraps it with Girder I/O, and tests can call it directly.
"""
import collections
import os
import re
import subprocess
import sys

from .cli_catalog import cli_script

_PROGRESS = re.compile(r'<filter-progress>\s*([0-9.eE+-]+)\s*</filter-progress>')
_COMMENT = re.compile(r'<filter-comment>(.*)</filter-comment>')


class CliFailed(RuntimeError):
    """A CLI exited with a non-zero code; the message carries the tail of its output."""


def run_cli_subprocess(name, argv, on_log=None, on_progress=None, env=None, tail_lines=40):
    """Run CLI ``name`` with ``argv``; raise CliFailed on a non-zero exit code.

    :param on_log: called with each output line that is not a progress marker.
    :param on_progress: called with (fraction, latest comment or None) for each progress marker.
    """
    command = [sys.executable, cli_script(name)] + [str(arg) for arg in argv]
    run_env = dict(os.environ, PYTHONUNBUFFERED='1', **(env or {}))
    tail = collections.deque(maxlen=tail_lines)
    comment = None
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=run_env, cwd=os.path.dirname(command[1])) as process:
        for line in process.stdout:
            line = line.rstrip('\n')
            progress, note = _PROGRESS.search(line), _COMMENT.search(line)
            if note:
                comment = note.group(1)
            if progress:
                if on_progress:
                    on_progress(float(progress.group(1)), comment)
                continue
            tail.append(line)
            if on_log:
                on_log(comment if note else line)
    if process.returncode:
        raise CliFailed('CLI %s exited with code %d:\n%s' % (name, process.returncode, '\n'.join(tail)))
