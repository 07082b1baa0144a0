// The labels of the slide open in the viewer, kept in memory so a click recolours at once: my labels and,
// when the overlay shows everyone's, the effective labels. Writes are optimistic: the arrays change first,
// the PUT follows (one per click or stroke, sent in order so a later write never overtakes an earlier one),
// and a failed write puts back what it changed and says why.
import $ from 'jquery';

import * as rest from '../rest';
import store, {bus, currentUser, loadCounts, loadStatus, showError} from '../store';
import overlay from './overlayState';

const STATUS_REFRESH_MS = 1500;

// Writes of every slide share one queue: an undo must come after the writes before it.
let queueTail = $.Deferred().resolve().promise();
let refreshTimer = null;

function enqueue(send) {
    const finished = $.Deferred();
    const previous = queueTail;
    queueTail = finished.promise();
    previous.always(() => send().always(() => finished.resolve()));
    return finished.promise();
}

// Per-slide label counts (status) and per-category counts follow the writes, a moment after the last one.
function refreshCountsSoon() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => {
        if (store.project) {
            loadStatus();
            loadCounts();
        }
    }, STATUS_REFRESH_MS);
}

/** After every write sent so far is acknowledged (or failed). */
function afterPendingWrites() {
    return queueTail;
}

export {afterPendingWrites};

export default class SlideLabels {
    constructor(projectId, itemId, count, onChange) {
        this.projectId = projectId;
        this.itemId = itemId;
        this.count = count;
        this.mine = new Array(count).fill(null);
        this.effective = new Array(count).fill(null);
        this.effectiveLoaded = false;
        this.onChange = onChange; // (superpixels) => recolour them
        this.stroke = null; // the paint stroke in progress
    }

    /** Fetch my labels of the slide (all of them, one request). */
    loadMine() {
        const user = currentUser();
        if (!user) {
            return $.Deferred().resolve().promise();
        }
        return rest.findLabels(this.projectId, {itemId: this.itemId, userId: user.id, limit: 0}).done((labels) => {
            this.mine.fill(null);
            labels.forEach((label) => {
                if (label.superpixel < this.count) {
                    this.mine[label.superpixel] = label.categoryId;
                }
            });
        }).fail((xhr) => showError('Loading your labels of this slide failed', xhr));
    }

    /** Fetch the effective labels of the slide (everyone's, after consensus and review). */
    loadEffective() {
        return rest.effectiveLabels(this.projectId, this.itemId).done((entries) => {
            this.effective.fill(null);
            entries.forEach((entry) => {
                if (entry.superpixel < this.count) {
                    this.effective[entry.superpixel] = entry.categoryId;
                }
            });
            this.effectiveLoaded = true;
        }).fail((xhr) => showError('Loading everyone\'s labels of this slide failed', xhr));
    }

    /** The category shown for a superpixel (null: unlabeled) under the overlay's label source. */
    shown(superpixel) {
        return overlay.labelSource === 'everyone' ? this.effective[superpixel] : this.mine[superpixel];
    }

    /** Set superpixels to categories in memory (mine, and the effective view as my newest word). */
    apply(labels) {
        labels.forEach(({superpixel, categoryId}) => {
            this.mine[superpixel] = categoryId;
            this.effective[superpixel] = categoryId;
        });
        this.onChange(labels.map((label) => label.superpixel));
    }

    /**
     * A click: label the superpixel with the active category, or clear it (`clear`: right-click; or a click with
     * the category it has already). `start` is the click's performance.now() time, for the timings.
     */
    click(superpixel, {clear, start}) {
        const current = this.mine[superpixel];
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
        this.write([{superpixel, categoryId}], {start});
        window.requestAnimationFrame(() => performance.measure('histomics-label:click-to-colour', {start}));
    }

    /** A stroke crosses a superpixel: it takes the active category now; the stroke is written at its end. */
    paint(superpixel) {
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
        if (this.stroke.labels.has(superpixel) || this.mine[superpixel] === categoryId) {
            return;
        }
        const label = {superpixel, categoryId};
        this.stroke.before.set(superpixel, this.snapshot(superpixel));
        this.stroke.labels.set(superpixel, label);
        this.apply([label]);
    }

    /** The stroke ends: one write with every superpixel it changed. */
    endStroke() {
        const stroke = this.stroke;
        this.stroke = null;
        if (stroke && stroke.labels.size) {
            const labels = Array.from(stroke.labels.values());
            this.write(labels, {start: stroke.start, before: labels.map((l) => stroke.before.get(l.superpixel))});
        }
    }

    /** What a superpixel holds now, to put back if a write fails. */
    snapshot(superpixel) {
        return {mine: this.mine[superpixel], effective: this.effective[superpixel]};
    }

    /**
     * Label superpixels now and write them: `labels` is [{superpixel, categoryId or null}]. Options: `start`, the
     * performance.now() time of the click or stroke (the write records how long the labeler waited for the
     * acknowledgment); `before`, snapshots per label when the labels were applied already (a stroke paints as
     * it goes). Returns the write's promise (resolved once acknowledged or reverted).
     */
    write(labels, {start, before} = {}) {
        before = before || labels.map(({superpixel}) => this.snapshot(superpixel));
        this.apply(labels);
        overlay.pendingWrites += 1;
        const epoch = store.status ? store.status.epoch : null;
        return enqueue(() => rest.writeLabels(this.projectId, this.itemId, labels, 'paint', epoch || null)
            .done(() => {
                if (start !== undefined) {
                    performance.measure('histomics-label:click-to-acknowledged', {start});
                }
                bus.$emit('labels-changed', {itemId: this.itemId, labels, source: 'viewer'});
                refreshCountsSoon();
            })
            .fail((xhr) => {
                this._revert(labels, before);
                showError(`Labeling ${labels.length} superpixel${labels.length === 1 ? '' : 's'} failed and ` +
                    'their colours were put back', xhr);
            })
            .always(() => {
                overlay.pendingWrites -= 1;
            }));
    }

    // Put back what a failed write changed, unless a later change of the same superpixel came since.
    _revert(labels, before) {
        const changed = [];
        labels.forEach(({superpixel, categoryId}, k) => {
            if (this.mine[superpixel] === categoryId) {
                this.mine[superpixel] = before[k].mine;
                this.effective[superpixel] = before[k].effective;
                changed.push(superpixel);
            }
        });
        this.onChange(changed);
    }
}

/**
 * Undo my newest label write in the project (after the writes still in flight); resolves with the undo result
 * ({itemId, writeId, labels}) and tells every component through 'labels-changed'.
 */
export function undoLastWrite(projectId) {
    const result = $.Deferred();
    afterPendingWrites().always(() => {
        rest.undoLabels(projectId).done((undone) => {
            bus.$emit('labels-changed', {itemId: undone.itemId, labels: undone.labels, source: 'undo'});
            refreshCountsSoon();
            result.resolve(undone);
        }).fail((xhr) => {
            showError('Undo failed', xhr);
            result.reject(xhr);
        });
    });
    return result.promise();
}
