// The keys of the labeling view, in one table per tab: this module binds the view-wide and Label-tab keys,
// FilmStrip.vue binds GUIDED_KEYS through findKey, and HelpOverlay.vue lists KEY_SECTIONS, so the help cannot
// drift from what the keys do. Keys are caught before HistomicsUI's own, and only while a project is open and
// no text field has the focus.
import $ from 'jquery';

import store, {canWrite, usableCategories} from '../store';
import {neighbourSlide, openSlide} from './navigation';
import overlay from './overlayState';
import {undoLastWrite} from './slideLabels';

const DIGITS = ['1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Whether a key event goes to a text field (then no key of ours acts). */
function typing(target) {
    const tag = ((target && target.tagName) || '').toLowerCase();
    return /^(input|textarea|select)$/.test(tag) || !!(target && target.isContentEditable);
}

function goTo(step) {
    const slide = neighbourSlide(step);
    if (slide) {
        openSlide(slide.itemId);
    }
}

// Writes sent outside the viewer's write queue (the film strip's cards): Ctrl-Z waits for them too, so that it
// undoes the newest write, not the one before it.
const held = new Set();

/** Make Ctrl-Z wait for this write request (a jQuery promise) before it undoes anything. */
function holdUndo(request) {
    held.add(request);
    request.always(() => held.delete(request));
}

function undo() {
    const projectId = store.project._id;
    const settled = [...held].map((request) => $.Deferred((wait) => request.always(wait.resolve)).promise());
    $.when(...settled).always(() => undoLastWrite(projectId));
}

function hotkeyCategory(key) {
    return usableCategories().find((category) => category.hotkey === key) || null;
}

// An entry: `keys` (KeyboardEvent.key values), `ctrl` (Ctrl or Cmd held) and `shift` (true / false; absent: either)
// the modifiers it needs, `shown` and `help` its row in the help (no `help`: not listed), `write` (labelers only),
// `when` (acts only if it returns true), `run(evt)` what it does.
const VIEW_KEYS = [
    {keys: ['?'], shown: '?', help: 'this help; Esc closes it', run: () => { overlay.help = !overlay.help; }},
    {keys: ['Escape'], when: () => overlay.help, run: () => { overlay.help = false; }},
    {
        keys: ['z', 'Z'],
        ctrl: true,
        shift: false,
        shown: 'Ctrl + Z',
        write: true,
        help: 'undo your last click, stroke or card (again: the one before); an undone card comes back to the strip',
        run: undo
    },
    {keys: ['p'], shown: 'P', help: 'predictions on / off', run: () => { overlay.predictions = !overlay.predictions; }},
    {keys: [','], shown: ',', help: 'previous slide', run: () => goTo(-1)},
    {keys: ['.'], shown: '.', help: 'next slide', run: () => goTo(1)}
];

const LABEL_KEYS = [
    {
        keys: DIGITS,
        shown: '1 – 9',
        help: 'choose the category with that key',
        write: true,
        when: (evt) => !!hotkeyCategory(evt.key),
        run: (evt) => { store.activeCategoryId = hotkeyCategory(evt.key)._id; }
    },
    {keys: ['b'], shown: 'B', help: 'brush on / off', write: true, run: () => { overlay.brush = !overlay.brush; }}
];

/**
 * The film strip's keys; `run(strip, evt)` calls the FilmStrip component, `card`: needs a focused card, `brief`:
 * its words in the strip's own key line.
 */
export const GUIDED_KEYS = [
    {
        keys: ['Enter', ' '],
        shift: false,
        shown: 'Enter, Space',
        brief: 'agree',
        write: true,
        card: true,
        help: 'label the focused card with its predicted category and go to the next',
        run: (strip) => strip.label([strip.cards[strip.focus]], null)
    },
    {
        keys: DIGITS,
        shown: '1 – 9',
        write: true,
        card: true,
        help: 'label the focused card with the category of that key and go to the next',
        when: (evt) => !!hotkeyCategory(evt.key),
        run: (strip, evt) => strip.label([strip.cards[strip.focus]], hotkeyCategory(evt.key)._id)
    },
    {
        keys: ['Enter'],
        shift: true,
        shown: 'Shift + Enter',
        write: true,
        card: true,
        help: 'agree with every card shown',
        run: (strip) => strip.agreeAll()
    },
    {keys: ['ArrowRight', 'ArrowDown'], shown: '→ ↓', brief: 'move', help: 'next card', run: (strip) => strip.move(1)},
    {keys: ['ArrowLeft', 'ArrowUp'], shown: '← ↑', help: 'previous card', run: (strip) => strip.move(-1)},
    {
        keys: ['PageDown'],
        shown: 'PageDown',
        brief: 'next page',
        help: 'leave these cards and show the next page',
        run: (strip) => strip.nextPage(true)
    }
];

/** The help's key rows, by where they act. */
export const KEY_SECTIONS = [
    {title: 'Everywhere', mode: null, keys: VIEW_KEYS},
    {title: 'Label tab', mode: 'label', keys: LABEL_KEYS},
    {title: 'Guided tab', mode: 'guided', keys: GUIDED_KEYS}
].map((section) => Object.assign({}, section, {keys: section.keys.filter((key) => key.help)}));

/** The entry of `table` this key event matches (keys, modifiers, `when`), or null. */
export function findKey(table, evt) {
    const ctrl = evt.ctrlKey || evt.metaKey;
    return table.find((entry) => entry.keys.includes(evt.key) && !evt.altKey && ctrl === !!entry.ctrl &&
        (entry.shift === undefined || entry.shift === evt.shiftKey) && (!entry.when || entry.when(evt))) || null;
}

/** Listen to the keys for a session (it has `projectId` while a project is open); returns the unbinding. */
export default function bindKeys(session) {
    const onKey = (evt) => {
        if (!session.projectId || !store.project || typing(evt.target)) {
            return;
        }
        const action = findKey(VIEW_KEYS, evt) || (store.mode === 'label' ? findKey(LABEL_KEYS, evt) : null);
        if (!action || (action.write && !canWrite())) {
            return;
        }
        evt.preventDefault();
        evt.stopPropagation();
        action.run(evt);
    };
    document.addEventListener('keydown', onKey, true);
    return () => document.removeEventListener('keydown', onKey, true);
}

export {holdUndo, typing};
