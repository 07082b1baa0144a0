"""Slicer CLI: patches or embeddings for every superpixel of a slide, written to HDF5."""
from ctk_cli import CLIArgumentParser

from histomics_label.cli_support import report_progress
from histomics_label.core.features.extract import extract_features
from histomics_label.core.superpixel_set import load_superpixel_data


def main(args):
    data = load_superpixel_data(args.inputSuperpixelData)
    report_progress(0, 'Featurizing %d superpixels (%s)' % (len(data['centroids']), args.featureKind))
    info = extract_features(
        args.inputImageFile, data['centroids'], args.outputFeatures, kind=args.featureKind,
        backbone=args.backbone, weights_path=args.weightsPath or None, patch_size=args.patchSize,
        magnification=args.magnification or None, label_path=getattr(args, 'labelImage', None) or None,
        progress=lambda done, total: report_progress(done / total))
    report_progress(1, 'Wrote features %s' % (info.shape,))


if __name__ == '__main__':
    main(CLIArgumentParser().parse_args())
