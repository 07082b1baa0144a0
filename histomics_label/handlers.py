"""Every Girder event the plugin reacts to, in one place.

- ``model.item.remove``: a slide's item is deleted: each project drops that slide and what was derived from
  it (superpixels, predictions, ranking keys, labeled keys, study assignment samples) and keeps its labels and
  history (:meth:`.models.project.Project.remove_slide`).
- ``model.folder.remove``: a project's folder is deleted: a project with labels is archived, keeping its
  labels, history, reviews and categories (:meth:`.models.project.Project.archive`); one without labels is
  deleted. Girder deletes a folder's items before the folder, so its slides are gone by then.
- ``model.histomics_label_project.save.created`` / ``.remove``: a new project starts its label counters
  (:class:`.models.label_stats.LabelStats`); a deleted one takes its study, assignments and counters along.
- ``jobs.job.update.after``: a failed or canceled job of ours moves its slide stage or training epoch from
  running to error (:func:`.jobs.pipeline.record_job_failure`).
"""
from girder import events

from .jobs.pipeline import record_job_failure
from .models.access import PROJECT_COLLECTION
from .models.assignment import Assignment
from .models.label_stats import LabelStats
from .models.project import Project
from .models.slide import ProjectSlide
from .models.study import Study

NAME = 'histomics_label'


def item_removed(event):
    item = event.info
    for slide in ProjectSlide().find({'itemId': item['_id']}):
        project = Project().findOne({'_id': slide['projectId']})
        if project is not None:
            Project().remove_slide(project, slide)


def folder_removed(event):
    project = Project().findOne({'folderId': event.info['_id']})
    if project is None:
        return
    if any(Project().label_counts(project)):
        Project().archive(project, 'Its folder %s was deleted.' % event.info['name'])
    else:
        Project().remove(project)


def project_created(event):
    LabelStats().start(event.info['_id'])


def project_removed(event):
    for model in (Study, Assignment, LabelStats):
        model().remove_project(event.info['_id'])


def job_updated(event):
    record_job_failure(event.info['job'])


#: event -> handler
HANDLERS = {
    'model.item.remove': item_removed,
    'model.folder.remove': folder_removed,
    'jobs.job.update.after': job_updated,
    'model.%s.save.created' % PROJECT_COLLECTION: project_created,
    'model.%s.remove' % PROJECT_COLLECTION: project_removed,
}


def bind():
    for event, handler in HANDLERS.items():
        events.bind(event, NAME, handler)
