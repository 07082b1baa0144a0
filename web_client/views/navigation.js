// Moving between the project's slides inside HistomicsUI: the slide is the `image` query parameter of
// /histomics#?image=<itemId>&hlProject=<projectId>; changing it (and dropping the old view's `bounds`) makes
// HistomicsUI's image view open the slide, and the labeling session follows.
import router from '@girder/histomicsui/router';

import store from '../store';

/** Open a slide of the project in the viewer. */
export function openSlide(itemId) {
    if (itemId === store.itemId) {
        return;
    }
    router.setQuery('bounds', null, {replace: true});
    router.setQuery('image', itemId, {trigger: true});
}

/** The project's slides that can be labeled (segmented), in the project's order. */
export function labelableSlides() {
    return ((store.status && store.status.slides) || []).filter((slide) => slide.segmented);
}

/** The labelable slide `step` places before (-1) or after (+1) the open one, or null. */
export function neighbourSlide(step) {
    const slides = labelableSlides();
    const all = (store.status && store.status.slides) || [];
    const current = all.findIndex((slide) => slide.itemId === store.itemId);
    if (current < 0) {
        return slides.length ? slides[0] : null;
    }
    for (let k = current + step; k >= 0 && k < all.length; k += step) {
        if (all[k].segmented) {
            return all[k];
        }
    }
    return null;
}
