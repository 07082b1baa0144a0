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

function loadCategories() {
    return rest.listCategories(store.project._id).done((categories) => {
        store.categories = categories;
        if (!usableCategories().some((category) => category._id === store.activeCategoryId)) {
            store.activeCategoryId = usableCategories().length ? usableCategories()[0]._id : null;
        }
    }).fail((xhr) => showError('Loading the categories failed', xhr));
}

function loadCounts() {
    return rest.labelCounts(store.project._id).done((counts) => {
        store.counts = counts;
    }).fail((xhr) => showError('Loading the label counts failed', xhr));
}

function loadStatus() {
    return rest.projectStatus(store.project._id).done((status) => {
        const epoch = store.status ? store.status.epoch : null;
        store.status = status;
        if (epoch !== null && status.epoch !== epoch) {
            bus.$emit('epoch-changed', status.epoch);
        }
    }).fail((xhr) => showError('Loading the project status failed', xhr));
}

function loadStudy() {
    return rest.getStudy(store.project._id).done((study) => {
        store.study = study;
    }).fail((xhr) => showError('Loading the study failed', xhr));
}

// Whether the study document gives the current user this capability (label, review, run, export, manage,
// monitor: docs/studies.md); false until it has loaded.
function can(capability) {
    return !!store.study && store.study.me.capabilities.includes(capability);
}

// Open a project: the project, its categories, counts, status and study.
function openProject(projectId) {
    return rest.getProject(projectId).then((project) => {
        if (!store.project || store.project._id !== project._id) {
            store.study = null;
        }
        store.project = project;
        return $.when(loadCategories(), loadCounts(), loadStatus(), loadStudy());
    }).fail((xhr) => showError('Opening the project failed', xhr));
}

export {
    ACCESS, bus, accessLevel, canWrite, isAdmin, currentUser, showError, clearError, usableCategories,
    loadCategories, loadCounts, loadStatus, loadStudy, can, openProject
};
export default store;
