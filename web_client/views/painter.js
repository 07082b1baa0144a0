/* global geo */
// The colour of every pixelmap index (2i: interior, 2i + 1: boundary of superpixel i) from the labels, the
// predictions and the overlay settings. `colorOf` runs once per index on a full redraw, so it reads a plain
// snapshot of the settings (`update`) rather than the reactive store.
const TRANSPARENT = {r: 0, g: 0, b: 0, a: 0};
const OUTLINE = {r: 0.05, g: 0.05, b: 0.05, a: 0.55};
const HIGHLIGHT = {r: 1, g: 0.9, b: 0, a: 1};
const HIGHLIGHT_FILL = {r: 1, g: 0.9, b: 0, a: 0.35};
const STROKE_ALPHA = 0.95;
// prediction alpha, times the opacity setting: always fainter than a label, whose fill alpha is the opacity
const PREDICTION_ALPHA = {min: 0.15, max: 0.8};

function rgb(color) {
    const c = geo.util.convertColor(color);
    return {r: c.r, g: c.g, b: c.b};
}

export default class Painter {
    constructor() {
        this.labels = null; // SlideLabels: shown(superpixel) -> category id or null
        this.settings = {labels: true, boundaries: true, predictions: false, opacity: 0.5};
        this.categories = [];
        this.colors = null; // category id -> {fill, stroke, rgb} (merged categories: their target's colours)
        this.predicted = null; // per superpixel: category id or null
        this.certaintyAlpha = null; // per superpixel: prediction alpha
        this.highlighted = -1;
    }

    /** Take the overlay settings ({labels, boundaries, predictions, opacity}) and the categories. */
    update(settings, categories) {
        this.settings = Object.assign({}, settings);
        this.categories = categories;
        this.colors = null; // built at the first draw: geojs (window.geo) loads with the viewer
    }

    _palette() {
        const categories = this.categories || [];
        const byId = new Map(categories.map((category) => [category._id, category]));
        this.colors = new Map();
        categories.forEach((category) => {
            let target = category;
            for (let hops = 0; target.mergedInto && byId.has(target.mergedInto) && hops < categories.length; hops += 1) {
                target = byId.get(target.mergedInto);
            }
            const fill = rgb(target.fillColor);
            this.colors.set(category._id, {
                fill: Object.assign({a: this.settings.opacity}, fill),
                stroke: Object.assign({a: STROKE_ALPHA}, rgb(target.strokeColor || target.fillColor)),
                rgb: fill
            });
        });
        return this.colors;
    }

    /**
     * Take a slide's predictions (GET .../predictions); the alpha grows with certainty from the slide's least
     * to its most certain superpixel, so it means the same whatever the project's certainty metric.
     */
    setPredictions(predictions, count) {
        const {categoryIds, predicted, certainty} = predictions;
        if (!predicted.length) {
            this.predicted = this.certaintyAlpha = null;
            return;
        }
        let low = Infinity, high = -Infinity;
        certainty.forEach((value) => {
            low = Math.min(low, value);
            high = Math.max(high, value);
        });
        const span = high > low ? high - low : 1;
        this.predicted = new Array(count).fill(null);
        this.certaintyAlpha = new Float32Array(count);
        for (let i = 0; i < Math.min(count, predicted.length); i += 1) {
            this.predicted[i] = categoryIds[predicted[i]];
            this.certaintyAlpha[i] = PREDICTION_ALPHA.min +
                (PREDICTION_ALPHA.max - PREDICTION_ALPHA.min) * (certainty[i] - low) / span;
        }
    }

    colorOf(index) {
        const superpixel = index >> 1, boundary = (index & 1) === 1, s = this.settings;
        if (superpixel === this.highlighted) {
            return boundary ? HIGHLIGHT : HIGHLIGHT_FILL;
        }
        const colors = this.colors || this._palette();
        const categoryId = s.labels && this.labels ? this.labels.shown(superpixel) : null;
        const color = categoryId ? colors.get(categoryId) : null;
        if (color) {
            return boundary && s.boundaries ? color.stroke : color.fill;
        }
        if (boundary && s.boundaries) {
            return OUTLINE;
        }
        if (s.predictions && this.predicted && this.predicted[superpixel]) {
            const predictedColor = colors.get(this.predicted[superpixel]);
            if (predictedColor) {
                return Object.assign({a: this.certaintyAlpha[superpixel] * s.opacity}, predictedColor.rgb);
            }
        }
        return TRANSPARENT;
    }
}
