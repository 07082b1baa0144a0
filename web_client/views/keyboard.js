// Keys of the labeling view (HelpOverlay.vue lists them). They are caught before HistomicsUI's own keys, and
// only while a project is open and no text field has the focus.
import store, {canWrite, usableCategories} from '../store';
import {neighbourSlide, openSlide} from './navigation';
import overlay from './overlayState';
import {undoLastWrite} from './slideLabels';

function typing(target) {
    const tag = ((target && target.tagName) || '').toLowerCase();
    return /^(input|textarea|select)$/.test(tag) || (target && target.isContentEditable);
}

function goTo(step) {
    const slide = neighbourSlide(step);
    if (slide) {
        openSlide(slide.itemId);
    }
}

// key -> what it does; `label` keys act only in the Label tab, `write` keys only for labelers.
const KEYS = {
    '?': {run: () => { overlay.help = !overlay.help; }},
    Escape: {run: () => { overlay.help = false; }, when: () => overlay.help},
    b: {run: () => { overlay.brush = !overlay.brush; }, label: true, write: true},
    p: {run: () => { overlay.predictions = !overlay.predictions; }},
    ',': {run: () => goTo(-1)},
    '.': {run: () => goTo(1)}
};

function categoryKey(key) {
    const category = usableCategories().find((c) => c.hotkey === key);
    return category ? {run: () => { store.activeCategoryId = category._id; }, label: true, write: true} : null;
}

function undoKey() {
    return {run: () => undoLastWrite(store.project._id), write: true};
}

/** Listen to the keys for a session (it has `projectId` while a project is open); returns the unbinding. */
export default function bindKeys(session) {
    const onKey = (evt) => {
        if (!session.projectId || !store.project || typing(evt.target)) {
            return;
        }
        const modified = evt.ctrlKey || evt.metaKey || evt.altKey;
        let action;
        if (modified) {
            action = (evt.ctrlKey || evt.metaKey) && !evt.altKey && !evt.shiftKey && evt.key.toLowerCase() === 'z' ? undoKey() : null;
        } else {
            action = KEYS[evt.key] || (/^[1-9]$/.test(evt.key) ? categoryKey(evt.key) : null);
        }
        if (!action || (action.label && store.mode !== 'label') || (action.write && !canWrite()) ||
                (action.when && !action.when())) {
            return;
        }
        evt.preventDefault();
        evt.stopPropagation();
        action.run();
    };
    document.addEventListener('keydown', onKey, true);
    return () => document.removeEventListener('keydown', onKey, true);
}
