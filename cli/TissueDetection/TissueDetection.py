"""Slicer CLI: detect tissue on a whole-slide image and write it as a polygon annotation.

Local mode reads the image and writes the annotation file; Girder mode (item id, API URL, token) reads the
item's large image and posts the annotation onto it.
"""
import numpy as np
from ctk_cli import CLIArgumentParser

from histomics_label.cli.support import girder_mode, report_progress, require_files, write_annotation_file
from histomics_label.core.tissue import mask_to_polygons, slide_overview, tissue_annotation, tissue_mask


def detect(args):
    """Write ``args.outputAnnotationFile``: one closed polygon per tissue region of ``args.inputImageFile``."""
    report_progress(0, 'Reading the overview')
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


def main(args):
    if girder_mode(args, 'itemId', '--item-id'):
        from histomics_label.cli.girder_io import connect, large_image_file, run_task

        client = connect(args.girderApiUrl, args.girderToken)
        task = {'itemId': args.itemId, 'inputs': {'inputImageFile': large_image_file(client, args.itemId)},
                'outputs': {'outputAnnotationFile': 'tissue.anot'}}
        sent = run_task(client, task, args, detect)
        report_progress(1, 'Posted the tissue annotation %s' % sent['outputAnnotationFile']['annotationIds'][0])
        return
    require_files(args, ('inputImageFile', 'outputAnnotationFile'), ('--image', '--annotation'), girder='--item-id')
    detect(args)
    report_progress(1, 'Wrote %s' % args.outputAnnotationFile)


if __name__ == '__main__':
    main(CLIArgumentParser().parse_args())
