// The one small store the components read: what the Guided Labeling view shows, updated from REST responses.
// Components change it through the functions below; the viewer glue (views/) listens to `bus` for what it must
// draw or where it must go.
import $ from 'jquery';
import Vue from 'vue';

import {getCurrentUser} from '@girder/core/auth';

import * as rest from './rest';

const ACCESS = {READ: 0, WRITE: 1, ADMIN: 2};

const store = Vue.observable({
    project: null, // the project as GET project/{id} returns it (with _accessLevel)
    categories: [], // GET project/{id}/category, in display order
    counts: {categories: {}, total: {mine: 0, everyone: 0}}, // GET project/{id}/label/counts
    status: null, // GET project/{id}/status
    study: null, // GET project/{id}/study: roles, options and `me` (the caller's roles, capabilities, blinding)
    itemId: null, // the slide open in the viewer
    activeCategoryId: null, // what a click or a stroke labels with
    mode: 'label', // 'label' | 'guided' | 'review'
    error: null // the newest failure, shown until dismissed
});

// Events between components and the viewer: 'labels-changed' ({itemId, labels}), 'center-on' ({itemId,
// superpixel}), 'epoch-changed' (epoch), 'overlay' ({kind, visible, opacity}).
const bus = new Vue();

function accessLevel() {
    return store.project ? store.project._accessLevel : -1;
}

function canWrite() {
    return accessLevel() >= ACCESS.WRITE && !store.project.archived;
}

function isAdmin() {
    return accessLevel() >= ACCESS.ADMIN;
}

function currentUser() {
    return getCurrentUser();
}

// Say what failed and why, from a failed restRequest (its JSON message) or a plain Error.
function showError(what, failure) {
    const reason = (failure && failure.responseJSON && failure.responseJSON.message) ||
        (failure && failure.message) || (failure && failure.statusText) || 'unknown error';
    store.error = `${what}: ${reason}`;
    return store.error;
}

function clearError() {
    store.error = null;
}

function usableCategories() {
    return store.categories.filter((category) => !category.mergedInto);
}

// The project opened last (openProject): a response about another one arrived late and is dropped.
let openingProjectId = null;
function current(projectId) {
    return projectId === openingProjectId;
}

// The loaders take the project's id so that opening a project can send them with GET project/{id}.
function loadCategories(projectId = store.project._id) {
    return rest.listCategories(projectId).done((categories) => {
        if (!current(projectId)) {
            return;
        }
        store.categories = categories;
        if (!usableCategories().some((category) => category._id === store.activeCategoryId)) {
            store.activeCategoryId = usableCategories().length ? usableCategories()[0]._id : null;
        }
    }).fail((xhr) => showError('Loading the categories failed', xhr));
}

function loadCounts(projectId = store.project._id) {
    return rest.labelCounts(projectId).done((counts) => {
        if (current(projectId)) {
            store.counts = counts;
        }
    }).fail((xhr) => showError('Loading the label counts failed', xhr));
}

function loadStatus(projectId = store.project._id) {
    return rest.projectStatus(projectId).done((status) => {
        if (!current(projectId)) {
            return;
        }
        const epoch = store.status && store.status.projectId === projectId ? store.status.epoch : null;
        store.status = status;
        if (epoch !== null && status.epoch !== epoch) {
            bus.$emit('epoch-changed', status.epoch);
        }
    }).fail((xhr) => showError('Loading the project status failed', xhr));
}

function loadStudy(projectId = store.project._id) {
    return rest.getStudy(projectId).done((study) => {
        if (current(projectId)) {
            store.study = study;
        }
    }).fail((xhr) => showError('Loading the study failed', xhr));
}

// Whether the study document gives the current user this capability (label, review, run, export, manage,
// monitor: docs/studies.md); false until it has loaded.
function can(capability) {
    return !!store.study && store.study.me.capabilities.includes(capability);
}

// Open a project: the project, its categories, counts, status and study, all requested at once (they need only
// the id); the promise resolves when every one has answered.
function openProject(projectId) {
    openingProjectId = projectId;
    if (!store.project || store.project._id !== projectId) {
        store.study = null;
    }
    const parts = [loadCategories(projectId), loadCounts(projectId), loadStatus(projectId), loadStudy(projectId)];
    return rest.getProject(projectId).then((project) => {
        if (openingProjectId === projectId) {
            store.project = project;
        }
        return $.when(...parts);
    }).fail((xhr) => showError('Opening the project failed', xhr));
}

export {
    ACCESS, bus, accessLevel, canWrite, isAdmin, currentUser, showError, clearError, usableCategories,
    loadCategories, loadCounts, loadStatus, loadStudy, can, openProject
};
export default store;
