import {registerPluginNamespace} from '@girder/core/pluginUtils';
import events from '@girder/core/events';
import huiRouter from '@girder/histomicsui/router';

import * as histomicsLabel from './index';
import HomeView from './views/HomeView';

registerPluginNamespace('histomics_label', histomicsLabel);

// Our pages live inside the HistomicsUI app (/histomics#histomics-label), next to its image viewer.
huiRouter.route('histomics-label', 'histomicsLabelHome', function () {
    events.trigger('g:navigateTo', HomeView, {});
});
