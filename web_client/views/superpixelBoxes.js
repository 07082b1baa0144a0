// Where a superpixel is, for 'center-on': its box in slide pixels (x0, y0, x1, y1) comes with the event or from
// the `user.bbox` list of the segmentation's pixelmap annotation, read once per slide.
import $ from 'jquery';

import * as rest from '../rest';
import {showError} from '../store';

const CENTER_MARGIN = 6; // the view around a centred superpixel, in superpixel sizes
const MIN_SIZE = 16; // slide pixels: a tiny superpixel still gets some context

export default class SuperpixelBoxes {
    constructor() {
        this.cache = null; // {itemId, request}
    }

    /** A promise of the box of `superpixel` on `slide` (a status slide), or null if it has none. */
    box(slide, superpixel) {
        const annotationId = (slide.segmentation.annotationIds || [])[0];
        if (!annotationId) {
            showError('Centring on the superpixel failed', {message: 'the slide has no superpixel annotation'});
            return $.Deferred().reject().promise();
        }
        if (!this.cache || this.cache.itemId !== slide.itemId) {
            const request = rest.getAnnotation(annotationId).then((annotation) => {
                const element = annotation.annotation.elements[0] || {};
                return (element.user && element.user.bbox) || [];
            });
            request.fail((xhr) => {
                this.cache = null;
                showError('Centring on the superpixel failed', xhr);
            });
            this.cache = {itemId: slide.itemId, request};
        }
        return this.cache.request.then((boxes) => boxes.length >= 4 * (superpixel + 1)
            ? boxes.slice(4 * superpixel, 4 * superpixel + 4)
            : null);
    }
}

/** Show a box with context around it in a geojs map of slide pixels. */
export function showBox(map, [x0, y0, x1, y1]) {
    const half = Math.max(x1 - x0, y1 - y0, MIN_SIZE) * CENTER_MARGIN / 2;
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    map.bounds({left: cx - half, right: cx + half, top: cy - half, bottom: cy + half});
}
