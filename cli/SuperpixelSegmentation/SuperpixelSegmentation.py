"""Slicer CLI: tiled, seamless SLIC superpixels of a slide as a label image, a pixelmap annotation and data.

Local mode writes the three files; Girder mode (project id, slide item id, API URL, token) segments a slide of
a Histomics Label project with its settings and stores the superpixels on the project.
"""
from ctk_cli import CLIArgumentParser

from histomics_label.cli.support import girder_mode, report_progress, require_files, write_annotation_file
from histomics_label.core.pixelmap import pixelmap_annotation
from histomics_label.core.superpixel_set import save_superpixel_data
from histomics_label.core.superpixels import compute_superpixels
from histomics_label.core.tissue import slide_overview, tissue_mask

LABEL_IMAGE_PARAMETER = 'outputSuperpixelImage'
FILES = ('inputImageFile', LABEL_IMAGE_PARAMETER, 'outputAnnotationFile', 'outputSuperpixelData')


def segment(args):
    """Segment ``args.inputImageFile`` and write the label image, the data and the annotation file."""
    mask = None
    if args.tissueOnly:
        report_progress(0, 'Finding tissue')
        mask = tissue_mask(slide_overview(args.inputImageFile)[0])
    report_progress(0.05, 'Segmenting at radius %d' % args.radius)
    superpixels = compute_superpixels(
        args.inputImageFile, output_path=args.outputSuperpixelImage,
        magnification=args.magnification or None, radius=args.radius, compactness=args.compactness,
        tissue_mask=mask, tile_size=args.tileSize,
        progress=lambda stage, done, total: report_progress(0.05 + 0.85 * done / max(total, 1)))
    save_superpixel_data(superpixels, args.outputSuperpixelData)
    # girderId names the label-image parameter; whoever uploads it swaps in the uploaded item's id
    write_annotation_file(args.outputAnnotationFile, pixelmap_annotation(
        superpixels, LABEL_IMAGE_PARAMETER, name='Superpixels', attributes={
            'cli': 'SuperpixelSegmentation', 'radius': args.radius, 'magnification': superpixels.magnification,
            'count': superpixels.count}))
    report_progress(0.9, '%d superpixels in %.1f s' % (superpixels.count, superpixels.info['seconds']))


def main(args):
    if girder_mode(args):
        from histomics_label.cli.girder_io import run_slide_task

        slide = run_slide_task(args, 'segmentation', segment)
        report_progress(1, 'Stored %d superpixels on the project' % slide['superpixelCount'])
        return
    require_files(args, FILES, ('--image', '--superpixel-image', '--annotation', '--superpixel-data'))
    segment(args)
    report_progress(1)


if __name__ == '__main__':
    main(CLIArgumentParser().parse_args())
