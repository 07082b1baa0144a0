"""Slicer CLI: one training epoch over a project: predictions, certainty and acquisition ranking."""
import json
import os

import numpy as np
from ctk_cli import CLIArgumentParser

from histomics_label.cli_support import report_progress
from histomics_label.core.features.store import read_features
from histomics_label.core.training import train_and_predict


def main(args):
    with open(args.inputManifest) as f:
        manifest = json.load(f)
    slides = {}
    for count, slide in enumerate(manifest['slides']):
        ids, values, _ = read_features(os.path.join(args.inputFeaturesDirectory, slide['features']))
        slides[int(slide['index'])] = (ids, values)
        report_progress(0.4 * (count + 1) / len(manifest['slides']), 'Read features of slide %d' % slide['index'])
    categories = manifest['categories']
    arrays, model = train_and_predict(
        slides, manifest['labels'], categories, excluded=manifest.get('excluded', []),
        model_kind=manifest.get('modelKind', 'mlp'), backend=manifest.get('modelBackend') or None,
        strategy=manifest.get('strategy', 'confidence'), mc_samples=args.mcSamples,
        seed=manifest.get('seed', 0))
    report_progress(0.9, 'Trained on %d labels; predicted %d superpixels' % (
        model.training_size, len(arrays['superpixel'])))
    np.savez_compressed(args.outputPredictions, category_ids=np.array(categories), **arrays)
    model.save(args.outputModel)
    report_progress(1, 'Epoch %s done' % manifest.get('epoch'))


if __name__ == '__main__':
    main(CLIArgumentParser().parse_args())
