// The superpixel overlay of one slide: a geojs pixelmap layer over the tiles of the segmentation's label image.
// A label-image pixel holds 2i (interior) or 2i + 1 (boundary) of superpixel i (histomics_label/core/
// label_image.py), and geojs colours each of those indices through `colorOf(index)` into a lookup table, so
// recolouring a superpixel rewrites two table entries and redraws: no tile is fetched again.
// The layer's parameters (tile URLs, pyramid levels, the label image's scale to the slide) come from
// large_image_annotation's viewer widget, the same code HistomicsUI draws pixelmap annotations with.
const LAYER_ID = 'histomics-label-superpixels';
const NO_SUPERPIXEL = 0xFFFFFF;
const PREFETCH_MS = 1000; // how often idle time reads the pixels of newly shown tiles
// Safari has no requestIdleCallback: a short timeout with a small budget stands in
const whenIdle = window.requestIdleCallback
    ? (step) => window.requestIdleCallback(step, {timeout: 2000})
    : (step) => window.setTimeout(() => step({timeRemaining: () => 8}), 50);

export default class LabelLayer {
    /**
     * @param viewerWidget large_image_annotation's geojs viewer widget showing the slide.
     * @param {object} options `labelItemId` (the label image item), `tiles` (its GET item/{id}/tiles),
     *   `scale` (label-image pixel to slide pixel), `count` (superpixels), `colorOf(index)` -> {r, g, b, a}.
     */
    constructor(viewerWidget, {labelItemId, tiles, scale, count, colorOf}) {
        this.viewer = viewerWidget.viewer;
        this.count = count;
        this._pixels = new WeakMap(); // tile image -> its RGBA pixels, read once for lookups
        const element = {
            id: LAYER_ID,
            type: 'pixelmap',
            girderId: labelItemId,
            boundaries: true,
            values: [],
            categories: [],
            opacity: 1,
            transform: {xoffset: 0, yoffset: 0, matrix: [[scale, 0], [0, scale]]}
        };
        const params = viewerWidget._generateOverlayLayerParams(tiles, labelItemId, element);
        params.opacity = 1; // our colours carry their own alpha; HistomicsUI's annotation opacity is not ours
        params.data = new Array(2 * count).fill(0);
        params.style = {color: (d, index) => colorOf(index)};
        const existing = this.viewer.layers().filter((layer) => layer.id() === LAYER_ID);
        existing.forEach((layer) => this.viewer.deleteLayer(layer));
        this.layer = this.viewer.createLayer('pixelmap', Object.assign(params, {
            id: LAYER_ID,
            gcs: viewerWidget._getOverlayTransformProjString(element)
        }));
        if (viewerWidget.annotationLayer) {
            viewerWidget.annotationLayer.moveToTop();
        }
        // a new layer shows only once the whole map is drawn again (as large_image_annotation does)
        this.viewer.scheduleAnimationFrame(this.viewer.draw, true);
        this.quads = this.layer.features().find((feature) => feature.featureType === 'quad');
        // decoding a tile's PNG for a lookup takes milliseconds (far more on a busy machine): do it when idle,
        // not on the click
        this._prefetchTimer = window.setInterval(() => this._prefetch(), PREFETCH_MS);
    }

    _prefetch() {
        if (!this.layer || this._prefetching) {
            return;
        }
        const images = this.quads.data().map((quad) => quad.image)
            .filter((image) => image && image.complete && image.width && !this._pixels.has(image));
        if (!images.length) {
            return;
        }
        this._prefetching = true;
        const step = (deadline) => {
            while (images.length && this.layer && deadline.timeRemaining() > 4) {
                this._tilePixels(images.pop());
            }
            if (images.length && this.layer) {
                whenIdle(step);
            } else {
                this._prefetching = false;
            }
        };
        whenIdle(step);
    }

    /** Recolour these superpixels (their interior and boundary entries) and redraw. */
    recolor(superpixels) {
        if (!this.layer || !superpixels.length) {
            return;
        }
        let low = Infinity, high = -1;
        superpixels.forEach((superpixel) => {
            low = Math.min(low, superpixel);
            high = Math.max(high, superpixel);
        });
        this.layer.indexModified(2 * low, 2 * high + 1).draw();
    }

    /** Recolour every superpixel (after a change of categories, source, opacity or predictions). */
    recolorAll() {
        if (this.layer) {
            this.layer.dataTime().modified();
            this.layer.draw();
        }
    }

    /**
     * The superpixel drawn at a point, or -1: the pixel of the label-image tile shown there, so what is found is
     * what the user sees, at any zoom.
     * @param {object} point {x, y} in the map's interface coordinates (geojs mouse `geo`).
     */
    superpixelAt(point) {
        if (!this.layer) {
            return -1;
        }
        const result = this.quads.pointSearch(point);
        // the last quad found is the topmost tile
        for (let k = result.index.length - 1; k >= 0; k -= 1) {
            const hit = result.extra[result.index[k]];
            const image = hit && hit._quad && hit._quad.image;
            if (image && image.width) {
                const pixels = this._tilePixels(image);
                const x = Math.min(image.width - 1, Math.floor(hit.basis.x * image.width));
                const y = Math.min(image.height - 1, Math.floor(hit.basis.y * image.height));
                const offset = 4 * (y * image.width + x);
                const value = pixels[offset] + 256 * pixels[offset + 1] + 65536 * pixels[offset + 2];
                if (value !== NO_SUPERPIXEL) {
                    const superpixel = value >> 1;
                    return superpixel < this.count ? superpixel : -1;
                }
            }
        }
        return -1;
    }

    _tilePixels(image) {
        let pixels = this._pixels.get(image);
        if (!pixels) {
            const canvas = document.createElement('canvas');
            canvas.width = image.width;
            canvas.height = image.height;
            // a CPU canvas: reading back a GPU one waits for the WebGL frames in flight (seconds on a busy machine)
            const context = canvas.getContext('2d', {willReadFrequently: true});
            context.drawImage(image, 0, 0);
            pixels = context.getImageData(0, 0, image.width, image.height).data;
            this._pixels.set(image, pixels);
        }
        return pixels;
    }

    /** Remove the layer from the map (when the map lives on); `mapGone` when the viewer was destroyed. */
    destroy(mapGone) {
        window.clearInterval(this._prefetchTimer);
        if (this.layer && !mapGone) {
            this.viewer.deleteLayer(this.layer);
        }
        this.layer = null;
    }
}
