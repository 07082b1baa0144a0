/* global geo */
// Mouse labeling on the geojs map. Dragging pans as everywhere in HistomicsUI; painting needs intent:
//   click: label the superpixel with the active category (again with the same category: clear it);
//   right-click: clear it; Shift + drag: paint every superpixel the stroke crosses (one write per stroke).
// With the brush on, the two drags swap: drag paints, Shift + drag pans. Right-drag and the wheel still zoom.
// Painting is a geojs interactor action of its own, so geojs does not pan while it runs.
import $ from 'jquery';

const OWNER = 'histomics_label';
const PAINT = 'histomics_label_paint';
const SAMPLE_STEP = 3; // screen pixels between the points a stroke samples

export default class MouseLabeling {
    /**
     * @param map the geojs map.
     * @param {object} handlers `superpixelAt(geoPoint)` -> index or -1, `click(superpixel, {clear, start})`,
     *   `paint(superpixel)` during a stroke, `strokeEnd()` when it ends, `enabled()` -> may label now.
     */
    constructor(map, handlers) {
        this.map = map;
        this.handlers = handlers;
        this.stroke = null;
        this._onClick = (evt) => this._click(evt);
        this._onDown = (evt) => this._down(evt);
        this._onMove = (evt) => this._move(evt);
        this._onUp = (evt) => this._up(evt);
        map.geoOn(geo.event.mouseclick, this._onClick);
        map.geoOn(geo.event.actiondown, this._onDown);
        map.geoOn(geo.event.actionmove, this._onMove);
        map.geoOn(geo.event.actionup, this._onUp);
        this.setTools({enabled: false, brush: false});
    }

    /**
     * Which drag paints: with `brush` the plain drag (Shift + drag pans), else Shift + drag; when `enabled` is
     * false (read-only, another tab) no drag paints and every drag pans as in HistomicsUI.
     */
    setTools({enabled, brush}) {
        const interactor = this.map.interactor();
        interactor.removeAction(undefined, undefined, OWNER);
        if (enabled) {
            interactor.addAction({
                action: PAINT, input: 'left', modifiers: {shift: !brush, ctrl: false}, owner: OWNER, name: 'paint'
            });
            if (brush) {
                interactor.addAction({
                    action: geo.geo_action.pan,
                    input: 'left',
                    modifiers: {shift: true, ctrl: false},
                    owner: OWNER,
                    name: 'pan while the brush is on'
                });
            }
        }
        $(this.map.node()).toggleClass('h-hl-brush', !!(enabled && brush));
    }

    _click(evt) {
        const buttons = evt.buttonsDown || {};
        if (evt.modifiers.ctrl || evt.modifiers.alt || evt.modifiers.meta || (!buttons.left && !buttons.right) ||
                !this.handlers.enabled()) {
            return;
        }
        const superpixel = this.handlers.superpixelAt(evt.geo);
        if (superpixel >= 0) {
            const start = evt.evt && evt.evt.timeStamp ? evt.evt.timeStamp : performance.now();
            this.handlers.click(superpixel, {clear: !!buttons.right, start});
        }
    }

    _down(evt) {
        if (evt.state.action !== PAINT) {
            return;
        }
        // a press that does not move is a click (handled by _click): painting starts with the first move
        this.stroke = this.handlers.enabled() ? {last: Object.assign({}, evt.mouse.map)} : null;
    }

    _move(evt) {
        if (evt.state.action !== PAINT || !this.stroke) {
            return;
        }
        const from = this.stroke.last, to = evt.mouse.map;
        const steps = Math.max(1, Math.ceil(Math.hypot(to.x - from.x, to.y - from.y) / SAMPLE_STEP));
        for (let k = 1; k <= steps; k += 1) {
            const point = {x: from.x + (to.x - from.x) * k / steps, y: from.y + (to.y - from.y) * k / steps};
            const superpixel = this.handlers.superpixelAt(this.map.displayToGcs(point));
            if (superpixel >= 0) {
                this.handlers.paint(superpixel);
            }
        }
        this.stroke.last = Object.assign({}, to);
    }

    _up(evt) {
        if (evt.state.action === PAINT && this.stroke) {
            this.stroke = null;
            this.handlers.strokeEnd();
        }
    }

    destroy() {
        this.map.geoOff(geo.event.mouseclick, this._onClick);
        this.map.geoOff(geo.event.actiondown, this._onDown);
        this.map.geoOff(geo.event.actionmove, this._onMove);
        this.map.geoOff(geo.event.actionup, this._onUp);
        this.map.interactor().removeAction(undefined, undefined, OWNER);
        $(this.map.node()).removeClass('h-hl-brush');
    }
}
