// Where our screens live, as URLs usable from both Girder's app (/) and HistomicsUI's (/histomics): the
// project list, a folder's setup form, a project's slide progress, the labeling view of a slide and Girder's
// job page (its log).
import {getApiRoot} from '@girder/core/rest';
import {HuiSettings} from '@girder/histomicsui/views/utils';

// The Girder web root as an absolute URL ending in '/', from the API root ('api/v1' or an absolute URL).
function girderRoot() {
    return new URL(getApiRoot(), window.location.href).href.replace(/api\/v1\/?$/, '');
}

// HistomicsUI's page path relative to the Girder root (its `webroot_path` setting).
function huiPath() {
    return HuiSettings.getSettings().then((settings) => settings['histomicsui.webroot_path'] || 'histomics');
}

// Our routes inside HistomicsUI (hash fragments).
const routes = {
    projects: () => 'histomics-label',
    setup: (folderId) => `histomics-label/new/${folderId}`,
    project: (projectId) => `histomics-label/project/${projectId}`,
    labeling: (projectId, itemId) => `?image=${itemId}&hlProject=${projectId}`
};

// Resolve with the absolute URL of one of `routes` inside HistomicsUI, e.g. huiUrl('project', id).
function huiUrl(route, ...args) {
    return huiPath().then((path) => `${girderRoot()}${path}#${routes[route](...args)}`);
}

function jobUrl(jobId) {
    return `${girderRoot()}#job/${jobId}`;
}

export {girderRoot, huiUrl, jobUrl, routes};
