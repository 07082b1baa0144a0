// Labeling inside HistomicsUI's own image view: every ImageView gets a LabelingSession, which stays idle until
// the URL names a project (`hlProject`, see main.js). The view rebuilds its DOM when it opens another slide, so
// the session puts its panel back after each render.
import {wrap} from '@girder/core/utilities/PluginUtils';
import ImageView from '@girder/histomicsui/views/body/ImageView';

import LabelingSession from './labelingSession';
import '../stylesheets/histomicsLabel.styl';

wrap(ImageView, 'initialize', function (initialize, ...args) {
    const result = initialize.apply(this, args);
    this.labelingSession = new LabelingSession(this);
    return result;
});

wrap(ImageView, 'render', function (render, ...args) {
    const result = render.apply(this, args);
    if (this.labelingSession) {
        this.labelingSession.attachPanel();
    }
    return result;
});

wrap(ImageView, 'destroy', function (destroy, ...args) {
    if (this.labelingSession) {
        this.labelingSession.destroy();
        this.labelingSession = null;
    }
    return destroy.apply(this, args);
});
