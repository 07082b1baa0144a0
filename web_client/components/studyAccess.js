// What the caller may do in the open project's study (store.study.me, GET project/{id}/study) and the names of
// the study roles, for the Manage tab's panels.
import {can, canWrite} from '../store';

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
