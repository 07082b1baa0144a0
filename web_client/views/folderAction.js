// A "Histomics Label" button in the header of a Girder folder of slides: it opens the folder's project (its
// slides and progress) or, for the folder's admins, the setup form of a new project. Shown when the folder
// holds a project I can read, or holds slides and I am its admin.
import $ from 'jquery';

import {getCurrentUser} from '@girder/core/auth';
import events from '@girder/core/events';
import {wrap} from '@girder/core/utilities/PluginUtils';
import {AccessType} from '@girder/core/constants';
import HierarchyWidget from '@girder/core/views/widgets/HierarchyWidget';

import {listFolderItems, listProjects} from '../rest';
import {huiUrl} from '../links';

// what the button does for a folder: {route, args, title} or null (no button). Both lookups start at once.
function folderTarget(folder) {
    const admin = folder.getAccessLevel() >= AccessType.ADMIN;
    return $.when(listProjects({limit: 0}), admin ? listFolderItems(folder.id, 200) : [[]]).then(([projects], [items]) => {
        const project = projects.find((p) => p.folderId === folder.id);
        if (project) {
            return {route: 'project', args: [project._id], title: `Open the labeling project ${project.name}`};
        }
        if (admin && items.some((item) => item.largeImage)) {
            return {route: 'setup', args: [folder.id], title: 'Set up a labeling project on the slides of this folder'};
        }
        return null;
    });
}

function alertFailure(what, xhr) {
    events.trigger('g:alert', {
        icon: 'cancel',
        type: 'danger',
        timeout: 8000,
        text: `Histomics Label: ${what}: ${(xhr.responseJSON || {}).message || xhr.statusText}`
    });
}

function addButton(widget, target) {
    if (!target || widget.$('.h-hl-folder-action').length) {
        return;
    }
    const button = $('<button class="h-hl-folder-action btn btn-sm btn-primary"></button>')
        .attr('title', target.title).html('<i class="icon-th-list"></i> Histomics Label');
    button.on('click', () => huiUrl(target.route, ...target.args).done((url) => {
        window.location.href = url;
    }).fail((xhr) => alertFailure('reading HistomicsUI\'s settings failed', xhr)));
    widget.$('.g-folder-header-buttons').first().prepend(button);
}

wrap(HierarchyWidget, 'render', function (render) {
    render.call(this);
    const folder = this.parentModel;
    if (folder.get('_modelType') === 'folder' && this._showActions && getCurrentUser() &&
            !this.$el.closest('.modal').length) {
        folderTarget(folder).done((target) => {
            if (this.parentModel === folder) {
                addButton(this, target);
            }
        }).fail((xhr) => events.trigger('g:alert', {
            icon: 'cancel',
            type: 'danger',
            timeout: 8000,
            text: `Histomics Label: looking up this folder's project failed: ${(xhr.responseJSON || {}).message || xhr.statusText}`
        }));
    }
    return this;
});
