"""REST API of Histomics Label, mounted at ``/api/v1/histomics_label``.

Each noun module adds its routes to the one root resource, so Swagger lists them together.
"""
from girder.api.rest import Resource

from .agreement import AgreementEndpoints
from .category import CategoryEndpoints
from .cli import CliEndpoints
from .export import ExportEndpoints
from .label import LabelEndpoints
from .pipeline import PipelineEndpoints
from .prediction import PredictionEndpoints
from .project import ProjectEndpoints
from .review import ReviewEndpoints
from .slide import SlideEndpoints
from .study import StudyEndpoints


class HistomicsLabelResource(Resource):
    def __init__(self):
        super().__init__()
        self.resourceName = 'histomics_label'
        for endpoints in (CliEndpoints, SlideEndpoints, ProjectEndpoints, CategoryEndpoints,
                          LabelEndpoints, ReviewEndpoints, PipelineEndpoints, PredictionEndpoints, AgreementEndpoints,
                          ExportEndpoints, StudyEndpoints):
            endpoints(self)
