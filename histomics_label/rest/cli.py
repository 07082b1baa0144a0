"""``/histomics_label/cli``: the Slicer CLIs this plugin can run."""
from girder.api import access
from .validation import Description, autoDescribeRoute

from ..jobs.cli_catalog import cli_names, cli_spec


class CliEndpoints:
    def __init__(self, root):
        root.route('GET', ('cli',), self.list_clis)

    @access.user
    @autoDescribeRoute(
        Description('List the Slicer CLIs shipped with Histomics Label.')
        .errorResponse('You must be logged in.', 401)
    )
    def list_clis(self):
        return [cli_spec(name) for name in cli_names()]
