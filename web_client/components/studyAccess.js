// What the caller may do in the open project's study (store.study.me, GET project/{id}/study) and the names of
// the study roles, for the Manage tab's panels.
import store, {can, canWrite, clearError, showError} from '../store';

export const ROLES = [
    {role: 'lead', title: 'Lead: manages the study, runs the pipeline, exports'},
    {role: 'expert', title: 'Expert (pathologist): labels and adjudicates'},
    {role: 'trainee', title: 'Trainee: labels'},
    {role: 'reviewer', title: 'Reviewer: gives review verdicts, sees the dashboard'}
];

// True when the caller has `capability` (run, export, manage: routes that write) and may write to the project.
export function mayChange(capability) {
    return can(capability) && canWrite();
}

// "login (First Last)" of a user document or a study member.
export function userTitle(user) {
    const name = user.name || [user.firstName, user.lastName].filter(Boolean).join(' ');
    return name ? `${user.login} (${name})` : user.login;
}

// For the Manage tab's panels: `onFailure(what)` makes a restRequest failure handler that shows the failure at the
// top of the panel (store.showError) and keeps it in `failure` for the panel to show beside its buttons, which may
// be scrolled far from the top; `clearFailure()` when the next action starts (also at the top if still shown).
export const failureMixin = {
    data() {
        return {failure: null};
    },
    methods: {
        onFailure(what) {
            return (xhr) => {
                this.failure = showError(what, xhr);
            };
        },
        clearFailure() {
            if (this.failure && store.error === this.failure) {
                clearError();
            }
            this.failure = null;
        }
    }
};
