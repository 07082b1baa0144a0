"""Slicer CLI: superpixels from another tool's label image or polygons, with SuperpixelSegmentation's outputs."""
import json

import large_image
from ctk_cli import CLIArgumentParser

from histomics_label.cli.support import report_progress, write_annotation_file
from histomics_label.core.byo_segmentation import superpixels_from_labels, superpixels_from_polygons
from histomics_label.core.pixelmap import pixelmap_annotation
from histomics_label.core.superpixel_set import save_superpixel_data

LABEL_IMAGE_PARAMETER = 'outputSuperpixelImage'


def _polygons(path):
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict) and 'elements' in data:  # a large_image annotation
        return [e for e in data['elements'] if e.get('type') == 'polyline']
    if isinstance(data, dict) and 'annotation' in data:
        return [e for e in data['annotation'].get('elements', []) if e.get('type') == 'polyline']
    return data


def main(args):
    size = large_image.open(args.inputImageFile).getMetadata()
    base_size = (size['sizeX'], size['sizeY'])
    report_progress(0, 'Reading %s' % args.inputSegmentation)
    if args.inputSegmentation.lower().endswith(('.json', '.geojson', '.anot')):
        superpixels = superpixels_from_polygons(_polygons(args.inputSegmentation), base_size,
                                                output_path=args.outputSuperpixelImage, scale=args.scale)
    else:
        superpixels = superpixels_from_labels(args.inputSegmentation, output_path=args.outputSuperpixelImage,
                                              scale=args.scale, base_size=base_size, background=args.background)
    save_superpixel_data(superpixels, args.outputSuperpixelData)
    write_annotation_file(args.outputAnnotationFile, pixelmap_annotation(
        superpixels, LABEL_IMAGE_PARAMETER, name='Superpixels', attributes={
            'cli': 'ImportSegmentation', 'source': args.inputSegmentation.rsplit('/', 1)[-1],
            'count': superpixels.count}))
    report_progress(1, 'Imported %d superpixels' % superpixels.count)


if __name__ == '__main__':
    main(CLIArgumentParser().parse_args())
