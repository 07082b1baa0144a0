// Labeling in HistomicsUI's image view: one session per image view (imageViewExtension.js creates it). It opens
// the project named by the `hlProject` query parameter, docks the LabelingPanel in the view's left panel
// column, draws the open slide's superpixels (labelLayer.js, painter.js), turns clicks and strokes into label
// writes (mouseLabeling.js, slideLabels.js) and answers the bus: 'center-on', 'labels-changed',
// 'epoch-changed'. Keys: keyboard.js.
import $ from 'jquery';
import Vue from 'vue';

import girderEvents from '@girder/core/events';
import events from '@girder/histomicsui/events';

import * as rest from '../rest';
import store, {bus, canWrite, loadStatus, openProject, showError} from '../store';
import LabelingPanel from '../components/LabelingPanel.vue';
import bindKeys from './keyboard';
import LabelLayer from './labelLayer';
import MouseLabeling from './mouseLabeling';
import {openSlide} from './navigation';
import overlay from './overlayState';
import Painter from './painter';
import SlideLabels from './slideLabels';
import SuperpixelBoxes, {showBox} from './superpixelBoxes';

const WAITING_POLL_MS = 5000;
const HIGHLIGHT_MS = 5000;

export default class LabelingSession {
    constructor(imageView) {
        this.imageView = imageView;
        this.projectId = null;
        this.vm = null;
        this.renderedItemId = null; // the slide the viewer has drawn
        this.painter = new Painter();
        this.boxes = new SuperpixelBoxes();
        this.watcher = new Vue();
        this._pending = new Set(); // unwatch functions of _when
        events.on('query:hlProject', this.setProject, this);
        events.on('h:imageOpened', (model) => {
            this.renderedItemId = model ? model.id : null;
            this._openSlide();
        }, this);
        imageView.on('h:viewerWidgetCreated', () => this._closeSlide(true), this);
        this._busHandlers = {
            'center-on': (target) => this.centerOn(target),
            'labels-changed': (change) => this._labelsChanged(change),
            'epoch-changed': () => this._loadPredictions()
        };
        Object.entries(this._busHandlers).forEach(([name, handler]) => bus.$on(name, handler));
        this._unbindKeys = bindKeys(this);
        this._onUnload = (evt) => {
            if (overlay.pendingWrites) { // the browser asks before a page with unsaved labels closes
                evt.preventDefault();
                evt.returnValue = '';
            }
        };
        window.addEventListener('beforeunload', this._onUnload);
        this._watch();
    }

    _watch() {
        const drawn = () => [overlay.labels, overlay.boundaries, overlay.predictions, overlay.opacity,
            overlay.labelSource, store.categories];
        this.watcher.$watch(drawn, () => this._repaint(), {deep: true});
        this.watcher.$watch(() => overlay.predictions, () => this._loadPredictions());
        this.watcher.$watch(() => overlay.labelSource, () => this._loadEffective());
        this.watcher.$watch(() => [overlay.brush, store.mode, canWrite()], () => this._setTools());
        // a slide waiting for its superpixels (or not in the project yet) opens when the status says so
        this.watcher.$watch(() => store.status, () => {
            if (overlay.slide.state === 'waiting' || overlay.slide.state === 'absent') {
                this._openSlide();
            }
        });
    }

    /** Open (or, with a null id, leave) a project; the `hlProject` query parameter calls this. */
    setProject(projectId) {
        if (!projectId) {
            this.close();
            return;
        }
        if (projectId === this.projectId) {
            return;
        }
        this.close();
        this.projectId = projectId;
        if (store.project && store.project._id !== projectId) { // another project's data must not show meanwhile
            Object.assign(store, {project: null, status: null, categories: []});
        }
        // The panel shows once the project is known and fills in as the other requests answer; the overlay
        // starts once the slides' status is in: neither waits for every opening request.
        this._when(() => this._projectKnown(projectId), () => this._mountPanel());
        this._when(() => this._statusKnown(projectId), () => {
            overlay.labelSource = canWrite() ? 'mine' : 'everyone';
            overlay.brush = false;
            this._openSlide();
        });
        openProject(projectId).fail(() => this.projectId === projectId && this._mountPanel());
    }

    _projectKnown(projectId) {
        return this.projectId === projectId && !!store.project && store.project._id === projectId;
    }

    _statusKnown(projectId) {
        return this._projectKnown(projectId) && !!store.status && store.status.projectId === projectId;
    }

    // Run `then` once `condition` holds (now or later); close() drops what has not run yet.
    _when(condition, then) {
        if (condition()) {
            then();
            return;
        }
        const unwatch = this.watcher.$watch(condition, (holds) => {
            if (holds) {
                unwatch();
                this._pending.delete(unwatch);
                then();
            }
        });
        this._pending.add(unwatch);
    }

    _mountPanel() {
        if (!this.vm && this.projectId) {
            this.vm = new Vue({render: (h) => h(LabelingPanel)}).$mount();
        }
        this.attachPanel();
    }

    /** Put the panel (back) into the image view's left column: the view rebuilds its DOM per slide. */
    attachPanel() {
        const column = this.imageView.$('.h-control-panel-container');
        if (this.vm && column.length && this.vm.$el.parentNode !== column[0]) {
            column.prepend(this.vm.$el);
        }
        this.imageView.$('.h-image-body').toggleClass('h-hl-labeling', !!this.vm);
    }

    _slideStatus() {
        return ((store.status && store.status.slides) || []).find((slide) => slide.itemId === store.itemId);
    }

    // Whether the rendered slide is loading or shown already in this viewer (h:imageOpened and the project's
    // status both open it: the second must not drop the first's requests and start again).
    _showing(viewerWidget) {
        const shown = this.shownSlide;
        return !!this.slideToken && !!shown && shown.itemId === this.renderedItemId && !!viewerWidget &&
            shown.viewer === viewerWidget.viewer && ['loading', 'ready'].includes(overlay.slide.state);
    }

    _openSlide() {
        const viewerWidget = this.imageView.viewerWidget;
        if (this._showing(viewerWidget)) {
            return;
        }
        this._closeSlide(false);
        store.itemId = this.renderedItemId;
        if (!this.projectId || !store.project || !store.itemId || !viewerWidget || !viewerWidget.viewer) {
            overlay.slide = {state: 'none', itemId: null, message: ''};
            return;
        }
        if (!this._statusKnown(this.projectId)) { // setProject opens the slide when the status is in
            overlay.slide = {state: 'loading', itemId: store.itemId, message: 'Loading the project…'};
            return;
        }
        const slide = this._slideStatus();
        if (!slide) {
            overlay.slide = {state: 'absent', itemId: store.itemId, message: 'This slide is not part of the project.'};
            return;
        }
        if (!slide.segmented) {
            const stage = slide.segmentation || {};
            overlay.slide = {
                state: 'waiting',
                itemId: store.itemId,
                message: stage.status === 'error'
                    ? `Segmentation failed: ${stage.error}`
                    : `No superpixels yet (segmentation ${stage.status || 'pending'}).`
            };
            this._waitTimer = window.setTimeout(() => loadStatus(), WAITING_POLL_MS);
            return;
        }
        overlay.slide = {state: 'loading', itemId: store.itemId, message: 'Loading the superpixels…'};
        const token = this.slideToken = {};
        this.shownSlide = {itemId: store.itemId, viewer: viewerWidget.viewer};
        const labels = new SlideLabels(store.project._id, store.itemId, slide.superpixelCount,
            (superpixels) => this.layer && this.layer.recolor(superpixels));
        const tiles = rest.tilesInfo(slide.segmentation.labelItemId)
            .fail((xhr) => showError('Loading the superpixels of this slide failed', xhr));
        $.when(tiles, labels.loadMine(), overlay.labelSource === 'everyone' ? labels.loadEffective() : null)
            .done((tilesInfo) => {
                if (token === this.slideToken) {
                    this._showSlide(viewerWidget, slide, labels, tilesInfo[0] || tilesInfo);
                }
            })
            .fail(() => {
                if (token === this.slideToken) {
                    overlay.slide = {state: 'error', itemId: store.itemId, message: 'The superpixels could not be loaded.'};
                }
            });
    }

    _showSlide(viewerWidget, slide, labels, tiles) {
        this.labels = labels;
        this.painter.labels = labels;
        this.painter.predicted = null;
        this._settingsToPainter();
        this.layer = new LabelLayer(viewerWidget, {
            labelItemId: slide.segmentation.labelItemId,
            tiles,
            scale: slide.segmentation.scale || 1,
            count: slide.superpixelCount,
            colorOf: (index) => this.painter.colorOf(index)
        });
        this.mouse = new MouseLabeling(viewerWidget.viewer, {
            enabled: () => canWrite() && store.mode === 'label',
            superpixelAt: (point) => this.layer.superpixelAt(point),
            click: (superpixel, options) => this.labels.click(superpixel, options),
            paint: (superpixel) => this.labels.paint(superpixel),
            strokeEnd: () => this.labels.endStroke()
        });
        this._setTools();
        overlay.slide = {state: 'ready', itemId: slide.itemId, message: ''};
        this._loadPredictions();
        if (this.pendingCenter && this.pendingCenter.itemId === slide.itemId) {
            const target = this.pendingCenter;
            this.pendingCenter = null;
            this.centerOn(target);
        }
    }

    // Painting only in the Label tab and for labelers; elsewhere every drag pans.
    _setTools() {
        if (this.mouse) {
            this.mouse.setTools({enabled: canWrite() && store.mode === 'label', brush: overlay.brush});
        }
    }

    /** Drop the slide's overlay; `mapGone` when HistomicsUI destroyed the viewer already. */
    _closeSlide(mapGone) {
        window.clearTimeout(this._waitTimer);
        window.clearTimeout(this._highlightTimer);
        this.slideToken = null;
        if (this.mouse && !mapGone) {
            this.mouse.destroy();
        }
        if (this.layer) {
            this.layer.destroy(mapGone);
        }
        this.mouse = this.layer = this.labels = null;
        this.painter.labels = null;
        this.painter.highlighted = -1;
        overlay.predictionsEpoch = null;
        if (mapGone) {
            this.renderedItemId = null;
        }
    }

    _settingsToPainter() {
        this.painter.update({
            labels: overlay.labels,
            boundaries: overlay.boundaries,
            predictions: overlay.predictions,
            opacity: overlay.opacity
        }, store.categories);
    }

    _repaint() {
        this._settingsToPainter();
        if (this.layer) {
            this.layer.recolorAll();
        }
    }

    _loadPredictions() {
        if (!overlay.predictions || !this.layer) {
            return;
        }
        const token = this.slideToken, count = this.labels.count;
        rest.slidePredictions(store.project._id, store.itemId).done((predictions) => {
            if (token === this.slideToken) {
                this.painter.setPredictions(predictions, count);
                overlay.predictionsEpoch = predictions.predicted.length ? predictions.epoch : 0;
                this.layer.recolorAll();
            }
        }).fail((xhr) => showError('Loading the predictions of this slide failed', xhr));
    }

    _loadEffective() {
        if (overlay.labelSource === 'everyone' && this.labels && !this.labels.effectiveLoaded) {
            const token = this.slideToken;
            this.labels.loadEffective().done(() => token === this.slideToken && this.layer.recolorAll());
        }
    }

    // Labels another component wrote (film strip, review) or an undo brought back.
    _labelsChanged({itemId, labels, source}) {
        if (source === 'viewer') {
            return;
        }
        if (this.labels && itemId === store.itemId) {
            this.labels.apply(labels);
        } else if (source === 'undo') {
            const slide = ((store.status && store.status.slides) || []).find((s) => s.itemId === itemId);
            girderEvents.trigger('g:alert', {
                type: 'info',
                timeout: 4000,
                text: `Undone: ${labels.length} label${labels.length === 1 ? '' : 's'} on ${slide ? slide.name : 'another slide'}.`
            });
        }
    }

    /** Centre the viewer on a superpixel ({itemId, superpixel, bbox?}), opening its slide if needed. */
    centerOn(target) {
        if (target.itemId !== store.itemId || overlay.slide.state !== 'ready') {
            this.pendingCenter = target;
            if (target.itemId !== this.renderedItemId) {
                openSlide(target.itemId);
            }
            return;
        }
        const token = this.slideToken;
        const box = target.bbox
            ? $.Deferred().resolve(target.bbox).promise()
            : this.boxes.box(this._slideStatus(), target.superpixel);
        box.done((bbox) => {
            if (token === this.slideToken && bbox) {
                showBox(this.imageView.viewerWidget.viewer, bbox);
                this._highlight(target.superpixel);
            }
        });
    }

    _highlight(superpixel) {
        const previous = this.painter.highlighted;
        this.painter.highlighted = superpixel;
        this.layer.recolor(previous >= 0 ? [previous, superpixel] : [superpixel]);
        window.clearTimeout(this._highlightTimer);
        this._highlightTimer = window.setTimeout(() => {
            this.painter.highlighted = -1;
            if (this.layer) {
                this.layer.recolor([superpixel]);
            }
        }, HIGHLIGHT_MS);
    }

    /** Leave the project: panel and overlay go, the image view stays. */
    close() {
        this._closeSlide(false);
        this._pending.forEach((unwatch) => unwatch());
        this._pending.clear();
        this.projectId = null;
        this.pendingCenter = null;
        overlay.slide = {state: 'none', itemId: null, message: ''};
        if (this.vm) {
            this.vm.$destroy();
            $(this.vm.$el).remove();
            this.vm = null;
        }
        this.attachPanel();
    }

    destroy() {
        this.close();
        events.off(null, null, this);
        this.imageView.off(null, null, this);
        Object.entries(this._busHandlers).forEach(([name, handler]) => bus.$off(name, handler));
        this._unbindKeys();
        window.removeEventListener('beforeunload', this._onUnload);
        this.watcher.$destroy();
    }
}
