"""The resident trainer's stage marks reach the Girder job at once (issue 10: the job toast stayed at 70%).

girder_worker's JobManager sends a progress update only when 0.5 s passed since its previous request and keeps
the rest for the next one; the trainer's marks come in quick succession (trained -> published -> quality), so
without forcing them the job showed the first mark until the slow cross-validation ended.
"""
from girder_worker.utils import JobManager

from histomics_label.jobs.trainer import Report


class RecordingSession:
    """Stands in for the JobManager's requests session: records what each job update sends."""

    def __init__(self):
        self.sent = []

    def request(self, method, url, **kwargs):
        self.sent.append((method, url, dict(kwargs['data'])))
        return self

    def raise_for_status(self):
        pass

    def close(self):
        pass


def test_every_stage_mark_is_sent_at_once():
    manager = JobManager(logPrint=False, url='http://girder/api/v1/job/1')
    session = manager._session = RecordingSession()
    report = Report(manager)
    report.progress(0.7, 'Trained on 40 labels')
    report.progress(0.85, 'Published epoch 2; cross-validating its quality')
    report.progress(1, 'Epoch 2 published')
    assert [(data['progressCurrent'], data['progressTotal'], data['progressMessage'])
            for _, _, data in session.sent] == [
        (70.0, 100, 'Trained on 40 labels'),
        (85.0, 100, 'Published epoch 2; cross-validating its quality'),
        (100, 100, 'Epoch 2 published')]
    assert {(method, url) for method, url, _ in session.sent} == {('PUT', 'http://girder/api/v1/job/1')}

