"""Slicer CLI: one training epoch over a project: predictions, certainty and acquisition ranking.

Local mode reads a manifest and features files and writes the predictions and model; Girder mode (API URL,
token, project id and optionally an epoch the server reserved) does the same through the Girder API, publishes
the epoch on the project, then posts its cross-validated quality (as the resident trainer does).
"""
import json
import os
import shutil
import tempfile

import numpy as np
from ctk_cli import CLIArgumentParser

from histomics_label.jobs.epoch_quality import macro_f1_text, post_quality
from histomics_label.cli.support import girder_mode, report_progress, require_files
from histomics_label.core.features.store import read_features
from histomics_label.core.training import train_and_predict


def train_files(manifest, features_directory, predictions_path, model_path, mc_samples):
    """Train on the manifest's labels and features; write predictions (.npz) and the model. Returns the
    features read (``{slide index: (ids, values)}``) and the strategy that ranked the epoch."""
    slides = {}
    for count, slide in enumerate(manifest['slides']):
        ids, values, _ = read_features(os.path.join(features_directory, slide['features']))
        slides[int(slide['index'])] = (ids, values)
        report_progress(0.4 * (count + 1) / len(manifest['slides']), 'Read features of slide %d' % slide['index'])
    categories, info = manifest['categories'], {}
    arrays, model = train_and_predict(
        slides, manifest['labels'], categories, excluded=manifest.get('excluded', []),
        model_kind=manifest.get('modelKind', 'mlp'), backend=manifest.get('modelBackend') or None,
        strategy=manifest.get('strategy', 'confidence'), mc_samples=mc_samples, seed=manifest.get('seed', 0),
        info=info)
    if info['note']:
        print(info['note'], flush=True)
    report_progress(0.8, 'Trained on %d labels; predicted %d superpixels; ranked by %s' % (
        model.training_size, len(arrays['superpixel']), info['strategy']))
    np.savez_compressed(predictions_path, category_ids=np.array(categories), **arrays)
    model.save(model_path)
    return slides, info['strategy']


def train_project(api_url, token, project_id, epoch, mc_samples):
    """Girder mode: take the reserved ``epoch`` (or reserve the next one), download its features, train,
    upload and publish the predictions, then post the epoch's quality. Returns the epoch and its quality
    (None if measuring it failed: the epoch stays published)."""
    from histomics_label.cli.girder_io import connect

    client = connect(api_url, token)
    path = 'histomics_label/project/%s/epoch' % project_id
    manifest = client.get('%s/%d' % (path, epoch)) if epoch else client.post(path)
    workdir = tempfile.mkdtemp(prefix='histomics_label_train_')
    try:
        for slide in manifest['slides']:
            client.downloadFile(slide['fileId'], os.path.join(workdir, slide['features']))
        epoch = manifest['epoch']
        paths = [os.path.join(workdir, 'epoch %d %s.npz' % (epoch, what)) for what in ('predictions', 'model')]
        slides, strategy = train_files(manifest, workdir, paths[0], paths[1], mc_samples)
        predictions, model = (client.uploadFileToFolder(manifest['dataFolderId'], path) for path in paths)
        client.post('histomics_label/project/%s/epoch/%d/predictions' % (project_id, epoch), parameters={
            'fileId': predictions['_id'], 'modelFileId': model['_id'],
            'model': json.dumps(dict(manifest['model'], strategy=strategy))})
        report_progress(0.9, 'Published epoch %d; cross-validating its quality' % epoch)
        return epoch, post_quality(client, project_id, manifest, slides, lambda line: print(line, flush=True))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(args):
    if girder_mode(args):
        epoch, quality = train_project(args.girderApiUrl, args.girderToken, args.projectId, args.epoch,
                                       args.mcSamples)
        report_progress(1, 'Published epoch %d; cross-validated macro-F1 %s' % (epoch, macro_f1_text(quality)))
        return
    require_files(args, ('manifest', 'featuresDirectory', 'predictions', 'model'),
                  ('--manifest', '--features-directory', '--predictions', '--model'), girder='--project-id')
    with open(args.manifest) as f:
        manifest = json.load(f)
    train_files(manifest, args.featuresDirectory, args.predictions, args.model, args.mcSamples)
    report_progress(1, 'Epoch %s done' % manifest.get('epoch'))


if __name__ == '__main__':
    main(CLIArgumentParser().parse_args())
