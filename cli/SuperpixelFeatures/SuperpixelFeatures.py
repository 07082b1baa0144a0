"""Slicer CLI: patches or embeddings for every superpixel of a slide, written to HDF5.

Local mode reads the slide and superpixel files; Girder mode (project id, slide item id, API URL, token)
featurizes a segmented slide of a Histomics Label project with its settings and records the file on it.
"""
from ctk_cli import CLIArgumentParser

from histomics_label.cli.support import girder_mode, report_progress, require_files
from histomics_label.core.features.extract import extract_features
from histomics_label.core.superpixel_set import load_superpixel_data

FILES = ('inputImageFile', 'inputSuperpixelData', 'outputFeatures')


def featurize(args):
    """Write ``args.outputFeatures`` for the superpixels of ``args.inputSuperpixelData``."""
    data = load_superpixel_data(args.inputSuperpixelData)
    report_progress(0, 'Featurizing %d superpixels (%s)' % (len(data['centroids']), args.featureKind))
    info = extract_features(
        args.inputImageFile, data['centroids'], args.outputFeatures, kind=args.featureKind,
        backbone=args.backbone, weights_path=args.weightsPath or None, patch_size=args.patchSize,
        magnification=args.magnification or None, label_path=getattr(args, 'labelImage', None) or None,
        progress=lambda done, total: report_progress(0.95 * done / total))
    report_progress(0.95, 'Wrote features %s' % (info.shape,))


def main(args):
    if girder_mode(args):
        from histomics_label.cli.girder_io import run_slide_task

        run_slide_task(args, 'features', featurize)
        report_progress(1, 'Recorded the features on the project')
        return
    require_files(args, FILES, ('--image', '--superpixel-data', '--features'))
    featurize(args)
    report_progress(1)


if __name__ == '__main__':
    main(CLIArgumentParser().parse_args())
