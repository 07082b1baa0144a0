// The one module through which the client talks to the Histomics Label REST API (docs/api.md documents every
// response shape used here). Each function returns Girder's restRequest promise (jQuery deferred); callers
// show failures with store.showError, never swallow them.
import $ from 'jquery';

import {getCurrentToken} from '@girder/core/auth';
import FileModel from '@girder/core/models/FileModel';
import FolderModel from '@girder/core/models/FolderModel';
import {getApiRoot, restRequest} from '@girder/core/rest';

const BASE = 'histomics_label';

function json(method, url, body) {
    return restRequest({method, url, data: JSON.stringify(body), contentType: 'application/json', error: null});
}

function call(method, url, data) {
    return restRequest({method, url, data: data || {}, error: null});
}

export function listClis() {
    return call('GET', `${BASE}/cli`);
}

export function detectTissue(itemId, params) {
    return call('POST', `${BASE}/slide/${itemId}/tissue_detection`, params);
}

// projects
export function listProjects(params) {
    return call('GET', `${BASE}/project`, params);
}

export function getProject(projectId) {
    return call('GET', `${BASE}/project/${projectId}`);
}

export function createProject(folderId, name, settings) {
    return call('POST', `${BASE}/project`, {folderId, name, settings: JSON.stringify(settings || {})});
}

export function updateProject(projectId, fields) {
    const data = Object.assign({}, fields);
    if (data.settings) {
        data.settings = JSON.stringify(data.settings);
    }
    return call('PUT', `${BASE}/project/${projectId}`, data);
}

export function projectStatus(projectId) {
    return call('GET', `${BASE}/project/${projectId}/status`);
}

export function projectQuality(projectId) {
    return call('GET', `${BASE}/project/${projectId}/quality`);
}

export function syncSlides(projectId) {
    return call('POST', `${BASE}/project/${projectId}/slides`);
}

// categories
export function listCategories(projectId) {
    return call('GET', `${BASE}/project/${projectId}/category`);
}

export function createCategory(projectId, fields) {
    return call('POST', `${BASE}/project/${projectId}/category`, fields);
}

export function updateCategory(categoryId, fields) {
    return call('PUT', `${BASE}/category/${categoryId}`, fields);
}

export function mergeCategory(categoryId, intoId) {
    return call('POST', `${BASE}/category/${categoryId}/merge`, {into: intoId});
}

export function unmergeCategory(categoryId) {
    return call('POST', `${BASE}/category/${categoryId}/unmerge`);
}

export function deleteCategory(categoryId) {
    return call('DELETE', `${BASE}/category/${categoryId}`);
}

// labels
export function writeLabels(projectId, itemId, labels, source, epoch) {
    const body = {itemId, labels};
    if (source) {
        body.source = source;
    }
    if (epoch !== undefined && epoch !== null) {
        body.epoch = epoch;
    }
    return json('PUT', `${BASE}/project/${projectId}/label`, body);
}

export function findLabels(projectId, params) {
    const data = Object.assign({}, params);
    if (data.categoryIds) {
        data.categoryIds = JSON.stringify(data.categoryIds);
    }
    return call('GET', `${BASE}/project/${projectId}/label`, data);
}

export function undoLabels(projectId) {
    return call('POST', `${BASE}/project/${projectId}/label/undo`);
}

export function labelCounts(projectId) {
    return call('GET', `${BASE}/project/${projectId}/label/counts`);
}

export function effectiveLabels(projectId, itemId) {
    return call('GET', `${BASE}/project/${projectId}/label/effective`, {itemId});
}

export function labelHistory(projectId, params) {
    return call('GET', `${BASE}/project/${projectId}/label/history`, params);
}

// reviews
export function writeReviews(projectId, itemId, reviews) {
    return json('PUT', `${BASE}/project/${projectId}/review`, {itemId, reviews});
}

export function findReviews(projectId, params) {
    return call('GET', `${BASE}/project/${projectId}/review`, params);
}

// pipeline and model
export function segmentSlides(projectId, itemIds) {
    return call('POST', `${BASE}/project/${projectId}/segment`, itemIds ? {itemIds: JSON.stringify(itemIds)} : {});
}

export function featurizeSlides(projectId, itemIds) {
    return call('POST', `${BASE}/project/${projectId}/featurize`, itemIds ? {itemIds: JSON.stringify(itemIds)} : {});
}

export function train(projectId) {
    return call('POST', `${BASE}/project/${projectId}/train`);
}

export function nextSuperpixels(projectId, limit, offset) {
    return call('GET', `${BASE}/project/${projectId}/next`, {limit, offset});
}

export function slidePredictions(projectId, itemId, probabilities) {
    return call('GET', `${BASE}/project/${projectId}/slide/${itemId}/predictions`, {probabilities: !!probabilities});
}

export function refreshAnnotations(projectId, itemIds) {
    return call('POST', `${BASE}/project/${projectId}/annotations`, itemIds ? {itemIds: JSON.stringify(itemIds)} : {});
}

// annotation studies (docs/studies.md)
export function getStudy(projectId) {
    return call('GET', `${BASE}/project/${projectId}/study`);
}

export function dashboard(projectId, params) {
    return call('GET', `${BASE}/project/${projectId}/dashboard`, params);
}

export function agreement(projectId, params) {
    return call('GET', `${BASE}/project/${projectId}/agreement`, params);
}

// Girder
export function getJob(jobId) {
    return call('GET', `job/${jobId}`);
}

export function getItem(itemId) {
    return call('GET', `item/${itemId}`);
}

export function tilesInfo(itemId) {
    return call('GET', `item/${itemId}/tiles`);
}

// cards and the review grid
// The URL of a superpixel's card picture (a JPEG with its outline), usable as an <img> src: Girder accepts the
// token as a query parameter for image GETs.
export function superpixelImageUrl(projectId, itemId, superpixel, size) {
    const token = getCurrentToken() || window.localStorage.getItem('girderToken');
    const query = `size=${size || 160}` + (token ? `&token=${encodeURIComponent(token)}` : '');
    return `${getApiRoot()}/${BASE}/project/${projectId}/slide/${itemId}/superpixel/${superpixel}/image?${query}`;
}

export function reviewQueue(projectId, params) {
    return call('GET', `${BASE}/project/${projectId}/review/queue`, params);
}

export function getUser(userId) {
    return call('GET', `user/${userId}`);
}

export function listUsers(limit) {
    return call('GET', 'user', {limit: limit || 200, sort: 'lastName'});
}

// a folder of slides (project setup)
export function getFolder(folderId) {
    return call('GET', `folder/${folderId}`);
}

export function listFolderItems(folderId, limit) {
    return call('GET', 'item', {folderId, limit: limit || 0});
}

export function getAnnotation(annotationId) {
    return call('GET', `annotation/${annotationId}`);
}

// study management (docs/api.md "Studies: roles, assignments, queues, dashboard")
export function updateStudy(projectId, body) {
    return json('PUT', `${BASE}/project/${projectId}/study`, body);
}

export function listAssignments(projectId) {
    return call('GET', `${BASE}/project/${projectId}/assignment`);
}

export function createAssignment(projectId, body) {
    return json('POST', `${BASE}/project/${projectId}/assignment`, body);
}

export function deleteAssignment(projectId, assignmentId) {
    return call('DELETE', `${BASE}/project/${projectId}/assignment/${assignmentId}`);
}

export function myQueue(projectId, limit, offset) {
    return call('GET', `${BASE}/project/${projectId}/queue`, {limit, offset: offset || 0});
}

// Users whose login, first or last name starts with `text` (Girder's prefix search: unlike `GET user?text=` it
// needs no MongoDB text index, so it also works on the embedded demo database).
export function searchUsers(text, limit) {
    return call('GET', 'resource/search', {q: text, mode: 'prefix', types: JSON.stringify(['user']), limit: limit || 10})
        .then((found) => found.user);
}

// exports and imported predictions (docs/api.md "Exports and imported predictions")
export function startExport(projectId, params) {
    const data = Object.assign({}, params);
    ['formats', 'splitRatios'].filter((key) => data[key]).forEach((key) => {
        data[key] = JSON.stringify(data[key]);
    });
    return call('POST', `${BASE}/project/${projectId}/export`, data);
}

export function listExports(projectId) {
    return call('GET', `${BASE}/project/${projectId}/export`);
}

export function importPredictions(projectId, itemId, fileId, name, codes) {
    const data = {fileId, name};
    if (codes) {
        data.codes = JSON.stringify(codes);
    }
    return call('POST', `${BASE}/project/${projectId}/slide/${itemId}/import`, data);
}

export function listItemFiles(itemId) {
    return call('GET', `item/${itemId}/files`, {limit: 0});
}

// Who may access a folder (users and groups with their levels; needs admin access on it).
export function folderAccess(folderId) {
    return call('GET', `folder/${folderId}/access`);
}

export function listSubfolders(folderId) {
    return call('GET', 'folder', {parentType: 'folder', parentId: folderId, limit: 0});
}

// The download URL of a Girder file or item (a link's href: the token rides as a query parameter).
export function downloadUrl(kind, id) {
    const token = getCurrentToken() || window.localStorage.getItem('girderToken');
    return `${getApiRoot()}/${kind}/${id}/download` + (token ? `?token=${encodeURIComponent(token)}` : '');
}

// Upload a browser File into a Girder folder (a new item); resolves with the new file document.
export function uploadToFolder(folderId, file) {
    const done = $.Deferred();
    const model = new FileModel();
    model.on('g:upload.complete', () => done.resolve(model.toJSON()));
    model.on('g:upload.error g:upload.errorStarting', (info) => done.reject({message: info.message}));
    model.upload(new FolderModel({_id: folderId}), file); // uploadToFolder would assign File.name: a TypeError
    return done.promise();
}
