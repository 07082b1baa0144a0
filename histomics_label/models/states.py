"""The states of a slide's pipeline stages and of a project's training epoch, and their allowed transitions.

Every state write checks its transition inside the update filter (the current status must be one the target
may follow, as ``girder_jobs``' ``JobStatus.valid_transitions`` does for jobs), so a late or duplicate job
callback cannot move a finished state backwards.
"""
from girder.exceptions import ValidationException


class _States:
    #: status -> the statuses it may move to
    TRANSITIONS = {}

    @classmethod
    def valid_transitions(cls, status):
        """The statuses ``status`` may move to (empty for a final or unknown status)."""
        return cls.TRANSITIONS.get(status, ())

    @classmethod
    def sources(cls, target):
        """The statuses that may move to ``target`` (what an update filter matches); 400 for an unknown one."""
        if target not in cls.TRANSITIONS:
            raise ValidationException('Unknown status %r; one of %s.' % (target, ', '.join(cls.TRANSITIONS)),
                                      'status')
        return [status for status, targets in cls.TRANSITIONS.items() if target in targets]


class StageStatus(_States):
    """``slide[stage]['status']`` of a pipeline stage (segmentation, features).

    pending -> running (a job was queued) | done (outputs brought by the caller) | error;
    running -> done (the job reported its outputs) | error (the job failed or was canceled);
    done -> running (an explicit recompute; a done stage never takes a second report);
    error -> running (a retry) | done (outputs brought by the caller)."""
    PENDING = 'pending'
    RUNNING = 'running'
    DONE = 'done'
    ERROR = 'error'
    TRANSITIONS = {
        PENDING: (RUNNING, DONE, ERROR),
        RUNNING: (DONE, ERROR),
        DONE: (RUNNING,),
        ERROR: (RUNNING, DONE),
    }


class TrainingStatus(_States):
    """``project['training']['status']`` of the epoch in training (each new epoch starts ``running``).

    running -> done (the epoch was published) | error (its job failed or could not be queued);
    error -> done (its predictions were published after all: the published epoch is the project's model);
    done is final: a late failure of a published epoch changes nothing."""
    RUNNING = 'running'
    DONE = 'done'
    ERROR = 'error'
    TRANSITIONS = {
        RUNNING: (DONE, ERROR),
        ERROR: (DONE,),
        DONE: (),
    }
