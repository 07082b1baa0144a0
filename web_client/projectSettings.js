// The project settings the setup form offers, mirroring histomics_label/models/project.py SETTINGS (the server
// validates; its 400 names the field). Each choice carries the words a pathologist reads.

const DEFAULTS = {
    radius: 100,
    magnification: 20,
    featureKind: 'embedding',
    backbone: 'efficientnet_lite0',
    weightsPath: '',
    patchSize: 64,
    modelKind: 'mlp',
    modelBackend: '',
    certaintyMetric: 'batchbald',
    retrainInterval: 0
};

const BACKBONES = [
    {value: 'efficientnet_lite0', text: 'EfficientNet-Lite0 (ImageNet, built in)'},
    {value: 'densenet121_pathmnist', text: 'DenseNet121 (PathMNIST, built in)'},
    {value: 'uni', text: 'UNI (needs a local weights file)'},
    {value: 'hf', text: 'Hugging Face model (needs a local weights folder)'},
    {value: 'timm', text: 'timm model by name (needs a local weights file)'}
];

// backbones whose weights are never downloaded: the form asks for their path on the worker
const NEEDS_WEIGHTS = ['uni', 'hf', 'timm'];

const MODEL_KINDS = [
    {value: 'mlp', text: 'Small neural network on the features (MLP)'},
    {value: 'linear', text: 'Linear layer on the features'},
    {value: 'logistic', text: 'Logistic regression on the features (scikit-learn)'},
    {value: 'cnn', text: 'CNN trained on image patches (no backbone)'}
];

// backends a kind may choose ('' is the kind's default); only the CNN has a choice
const MODEL_BACKENDS = {cnn: [{value: '', text: 'PyTorch (default)'}, {value: 'keras', text: 'Keras'}]};

const CERTAINTY_METRICS = [
    {value: 'confidence', text: 'Confidence: least confident prediction first'},
    {value: 'margin', text: 'Margin: smallest gap between the two likeliest categories first'},
    {value: 'negative_entropy', text: 'Entropy: most uncertain over all categories first'},
    {value: 'bald', text: 'BALD: where model samples disagree most'},
    {value: 'batchbald', text: 'BatchBALD: BALD, avoiding similar superpixels in one page'},
    {value: 'coreset', text: 'Core-set: most unlike what is labeled already'},
    {value: 'class_balanced', text: 'Class-balanced: uncertain ones spread over predicted categories'}
];

// Colours offered to new categories in turn (d3's category10).
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
    '#bcbd22', '#17becf'];

const HOTKEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9'];

// The settings object POST project takes, from the form's fields.
function settingsFromForm(form) {
    const cnn = form.modelKind === 'cnn';
    const settings = {
        radius: Number(form.radius),
        magnification: Number(form.magnification),
        modelKind: form.modelKind,
        modelBackend: cnn ? form.modelBackend : '',
        certaintyMetric: form.certaintyMetric,
        retrainInterval: Number(form.retrainInterval),
        featureKind: cnn ? 'patches' : 'embedding'
    };
    if (form.knownAnswerShare !== undefined) { // only when the project has it (the setup form does not offer it)
        settings.knownAnswerShare = Number(form.knownAnswerShare);
    }
    if (cnn) {
        settings.patchSize = Number(form.patchSize);
    } else {
        settings.backbone = form.backbone === 'timm' ? `timm:${form.timmModel.trim()}` : form.backbone;
        settings.weightsPath = NEEDS_WEIGHTS.includes(form.backbone) ? form.weightsPath.trim() : '';
    }
    return settings;
}

// The form's fields from a project's settings (the inverse of settingsFromForm).
function formFromSettings(settings) {
    const form = Object.assign({timmModel: ''}, DEFAULTS, settings);
    if (form.backbone.startsWith('timm:')) {
        form.timmModel = form.backbone.slice(5);
        form.backbone = 'timm';
    }
    return form;
}

// The first colour of the palette not in `used`, else the next in turn.
function nextColor(used) {
    return PALETTE.find((color) => !used.includes(color)) || PALETTE[used.length % PALETTE.length];
}

// The first hotkey 1-9 not in `used`, or '' when all are taken.
function nextHotkey(used) {
    return HOTKEYS.find((key) => !used.includes(key)) || '';
}

let rowSerial = 0;

// A new row of the setup form's categories, with the next free colour and hotkey after `rows`.
function newCategoryRow(rows) {
    rowSerial += 1;
    return {
        key: rowSerial,
        name: '',
        fillColor: nextColor(rows.map((row) => row.fillColor)),
        hotkey: nextHotkey(rows.map((row) => row.hotkey))
    };
}

// '#rrggbb' of a colour the server accepts (#rrggbb[aa], rgb(), rgba()), for <input type="color">.
function hexColor(color) {
    const rgb = /^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)/.exec(color || '');
    if (rgb) {
        return '#' + rgb.slice(1, 4).map((v) => Number(v).toString(16).padStart(2, '0')).join('');
    }
    return /^#[0-9a-f]{6}/i.test(color || '') ? color.slice(0, 7).toLowerCase() : '#000000';
}

export {
    DEFAULTS, BACKBONES, NEEDS_WEIGHTS, MODEL_KINDS, MODEL_BACKENDS, CERTAINTY_METRICS, PALETTE, HOTKEYS,
    settingsFromForm, formFromSettings, nextColor, nextHotkey, newCategoryRow, hexColor
};
