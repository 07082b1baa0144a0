// A "Histomics Label" link in HistomicsUI's header, to the project list.
import {wrap} from '@girder/core/utilities/PluginUtils';
import HeaderView from '@girder/histomicsui/views/layout/HeaderView';

import {routes} from '../links';

wrap(HeaderView, 'render', function (render) {
    render.call(this);
    this.$('.navbar-right').prepend(
        `<li class="h-hl-header-link"><a href="#${routes.projects()}" title="Your labeling projects">` +
        '<i class="icon-th-list"></i> Histomics Label</a></li>');
    return this;
});
