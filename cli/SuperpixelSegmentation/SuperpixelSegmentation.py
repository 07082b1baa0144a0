"""Slicer CLI: tiled, seamless SLIC superpixels of a slide as a label image, a pixelmap annotation and data."""
from ctk_cli import CLIArgumentParser

from histomics_label.cli_support import report_progress, write_annotation_file
from histomics_label.core.pixelmap import pixelmap_annotation
from histomics_label.core.superpixel_set import save_superpixel_data
from histomics_label.core.superpixels import compute_superpixels
from histomics_label.core.tissue import slide_overview, tissue_mask

LABEL_IMAGE_PARAMETER = 'outputSuperpixelImage'


def main(args):
    mask = None
    if args.tissueOnly:
        report_progress(0, 'Finding tissue')
        mask = tissue_mask(slide_overview(args.inputImageFile)[0])
    report_progress(0.05, 'Segmenting at radius %d' % args.radius)
    superpixels = compute_superpixels(
        args.inputImageFile, output_path=args.outputSuperpixelImage,
        magnification=args.magnification or None, radius=args.radius, compactness=args.compactness,
        tissue_mask=mask, tile_size=args.tileSize,
        progress=lambda stage, done, total: report_progress(0.05 + 0.9 * done / max(total, 1)))
    save_superpixel_data(superpixels, args.outputSuperpixelData)
    # girderId names the label-image parameter; the job runner swaps in the uploaded item's id
    write_annotation_file(args.outputAnnotationFile, pixelmap_annotation(
        superpixels, LABEL_IMAGE_PARAMETER, name='Superpixels', attributes={
            'cli': 'SuperpixelSegmentation', 'radius': args.radius, 'magnification': superpixels.magnification,
            'count': superpixels.count}))
    report_progress(1, '%d superpixels in %.1f s' % (superpixels.count, superpixels.info['seconds']))


if __name__ == '__main__':
    main(CLIArgumentParser().parse_args())
