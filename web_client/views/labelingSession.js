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

const WAITING_POLL_MS = 5000;
const HIGHLIGHT_MS = 5000;
const CENTER_MARGIN = 6; // the view around a centred superpixel, in superpixel sizes

export default class LabelingSession {
    constructor(imageView) {
        this.imageView = imageView;
        this.projectId = null;
        this.vm = null;
        this.renderedItemId = null; // the slide the viewer has drawn
        this.painter = new Painter();
        this.watcher = new Vue();
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
        openProject(projectId).always(() => this._mountPanel()).done(() => {
            if (this.projectId === projectId) {
                overlay.labelSource = canWrite() ? 'mine' : 'everyone';
                overlay.brush = false;
                this._openSlide();
            }
        });
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

    _openSlide() {
        this._closeSlide(false);
        store.itemId = this.renderedItemId;
        const viewerWidget = this.imageView.viewerWidget;
        if (!this.projectId || !store.project || !store.itemId || !viewerWidget || !viewerWidget.viewer) {
            overlay.slide = {state: 'none', itemId: null, message: ''};
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
            click: (superpixel, options) => this._click(superpixel, options),
            paint: (superpixel) => this._paint(superpixel),
            strokeEnd: () => this._strokeEnd()
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
        this.mouse = this.layer = this.labels = this.stroke = null;
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

    _click(superpixel, {clear, start}) {
        const current = this.labels.mine[superpixel];
        let categoryId = null;
        if (!clear) {
            if (!store.activeCategoryId) {
                showError('Nothing was labeled', {message: 'choose a category first'});
                return;
            }
            categoryId = current === store.activeCategoryId ? null : store.activeCategoryId;
        }
        if (!categoryId && !current) {
            return;
        }
        this.labels.write([{superpixel, categoryId}], {start});
        window.requestAnimationFrame(() => performance.measure('histomics-label:click-to-colour', {start}));
    }

    _paint(superpixel) {
        if (!this.stroke) {
            this.stroke = {start: performance.now(), labels: new Map(), before: new Map(), warned: false};
        }
        const categoryId = store.activeCategoryId;
        if (!categoryId) {
            if (!this.stroke.warned) {
                this.stroke.warned = true;
                showError('Nothing was painted', {message: 'choose a category first'});
            }
            return;
        }
        if (this.stroke.labels.has(superpixel) || this.labels.mine[superpixel] === categoryId) {
            return;
        }
        const label = {superpixel, categoryId};
        this.stroke.before.set(superpixel, this.labels.snapshot(superpixel));
        this.stroke.labels.set(superpixel, label);
        this.labels.apply([label]);
    }

    _strokeEnd() {
        const stroke = this.stroke;
        this.stroke = null;
        if (stroke && stroke.labels.size && this.labels) {
            const labels = Array.from(stroke.labels.values());
            this.labels.write(labels, {start: stroke.start, before: labels.map((l) => stroke.before.get(l.superpixel))});
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
        const box = target.bbox ? $.Deferred().resolve(target.bbox).promise() : this._superpixelBox(target.superpixel);
        box.done((bbox) => {
            if (token !== this.slideToken || !bbox) {
                return;
            }
            const [x0, y0, x1, y1] = bbox;
            const size = Math.max(x1 - x0, y1 - y0, 16) * CENTER_MARGIN / 2;
            const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
            this.imageView.viewerWidget.viewer.bounds({left: cx - size, right: cx + size, top: cy - size, bottom: cy + size});
            this._highlight(target.superpixel);
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

    // A superpixel's box in slide pixels, from the segmentation's pixelmap annotation (read once per slide).
    _superpixelBox(superpixel) {
        const slide = this._slideStatus();
        const annotationId = slide && (slide.segmentation.annotationIds || [])[0];
        if (!annotationId) {
            showError('Centring on the superpixel failed', {message: 'the slide has no superpixel annotation'});
            return $.Deferred().reject().promise();
        }
        if (!this._boxes || this._boxes.itemId !== slide.itemId) {
            this._boxes = {
                itemId: slide.itemId,
                request: rest.getAnnotation(annotationId).then((annotation) => {
                    const element = annotation.annotation.elements[0] || {};
                    return (element.user && element.user.bbox) || [];
                })
            };
            this._boxes.request.fail((xhr) => {
                this._boxes = null;
                showError('Centring on the superpixel failed', xhr);
            });
        }
        return this._boxes.request.then((boxes) => boxes.length >= 4 * (superpixel + 1)
            ? boxes.slice(4 * superpixel, 4 * superpixel + 4)
            : null);
    }

    /** Leave the project: panel and overlay go, the image view stays. */
    close() {
        this._closeSlide(false);
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
