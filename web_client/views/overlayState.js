// What the labeling viewer shows and which tool is on: one observable object that the panel's controls change
// and the viewer glue (labelingSession.js) draws. Project data (categories, status, the active category) lives
// in store.js; this holds only the viewer's own settings.
import Vue from 'vue';

const overlay = Vue.observable({
    labels: true, // label colours on the slide
    labelSource: 'mine', // 'mine' (my labels) or 'everyone' (effective labels, docs/labels.md)
    boundaries: true, // superpixel outlines
    predictions: false, // predicted category, fainter where the model is less certain
    predictionsEpoch: null, // epoch of the predictions drawn (0: the project has none yet; null: not loaded)
    opacity: 0.5, // fill opacity of labels and predictions (outlines stay visible)
    brush: false, // left-drag paints (Shift-drag pans) instead of panning (Shift-drag paints)
    help: false, // the keyboard and mouse help is open
    // the open slide as the viewer sees it: state 'none' (no slide), 'absent' (not in the project),
    // 'waiting' (no superpixels yet), 'loading', 'ready'
    slide: {state: 'none', itemId: null, message: ''},
    pendingWrites: 0 // label writes sent and not acknowledged yet
});

export default overlay;
