import {registerPluginNamespace} from '@girder/core/pluginUtils';
import events from '@girder/core/events';
import huiRouter from '@girder/histomicsui/router';

import * as histomicsLabel from './index';
import './views/imageViewExtension';

// Labeling a project's slide happens in HistomicsUI's own image view:
//     /histomics#?image=<slide item id>&hlProject=<project id>
// opens the slide with the labeling panel docked in the view's left column (views/imageViewExtension.js);
// without `hlProject` the image view is HistomicsUI's alone. views/navigation.js moves between the slides.

// --- project list, setup and progress pages; Girder folder action; HistomicsUI header link (helper H) ---
import registerPages from './views/pages';
import './views/folderAction';
import './views/headerLink';

registerPluginNamespace('histomics_label', histomicsLabel);

// HistomicsUI 1.8.1's image view throws while it is torn down inside the app (its destroy() announces a
// null image to panels that still listen), so leaving it for one of our pages takes a full page load.
function navigateTo(View, settings) {
    if (document.querySelector('.h-image-view-body')) {
        window.location.reload();
        return;
    }
    events.trigger('g:navigateTo', View, settings || {});
}

// Our pages live inside the HistomicsUI app (/histomics#histomics-label), next to its image viewer.
registerPages(huiRouter, navigateTo);
