"""REST API of Histomics Label, mounted at ``/api/v1/histomics_label``.

Each noun module adds its routes to the one root resource, so Swagger lists them together.
"""
from girder.api.rest import Resource

from .cli import CliEndpoints
from .slide import SlideEndpoints


class HistomicsLabelResource(Resource):
    def __init__(self):
        super().__init__()
        self.resourceName = 'histomics_label'
        for endpoints in (CliEndpoints, SlideEndpoints):
            endpoints(self)
