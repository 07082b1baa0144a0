"""Slicer CLI: detect tissue on a whole-slide image and write it as a polygon annotation."""
import numpy as np
from ctk_cli import CLIArgumentParser

from histomics_label.cli_support import report_progress, write_annotation_file
from histomics_label.core.tissue import mask_to_polygons, slide_overview, tissue_annotation, tissue_mask


def main(args):
    report_progress(0, 'Reading overview of %s' % args.inputImageFile)
    size = int(args.analysisSize)
    overview, scale = slide_overview(args.inputImageFile, size)
    report_progress(0.3, 'Detecting tissue on a %dx%d overview' % (overview.shape[1], overview.shape[0]))
    mask = tissue_mask(overview, min_area_fraction=args.minAreaFraction)
    polygons = mask_to_polygons(mask, scale=scale, tolerance=args.simplifyTolerance)
    fraction = float(np.count_nonzero(mask)) / mask.size
    report_progress(0.8, 'Found %d tissue regions covering %.1f%% of the slide' % (
        len(polygons), 100 * fraction))
    annotation = tissue_annotation(polygons, attributes={
        'cli': 'TissueDetection', 'tissueFraction': round(fraction, 6),
        'analysisSize': size, 'minAreaFraction': args.minAreaFraction})
    write_annotation_file(args.outputAnnotationFile, annotation)
    report_progress(1, 'Wrote %s' % args.outputAnnotationFile)


if __name__ == '__main__':
    main(CLIArgumentParser().parse_args())
