"""HistomicsUI ``pixelmap`` annotation elements for a superpixel label image.

The element follows large_image's annotation schema: ``values`` holds one category index per superpixel,
``categories`` the colours, ``boundaries: true`` says pixel values are ``2i`` (interior) / ``2i + 1``
(boundary), ``transform.matrix`` scales label-image pixels to base-slide pixels, and ``user.bbox`` lists
``x0, y0, x1, y1`` per superpixel in base-slide pixels (the layout superpixel-classification reads).
"""
import re

DEFAULT_CATEGORY = {'label': 'default', 'fillColor': 'rgba(0, 0, 0, 0)', 'strokeColor': 'rgba(0, 0, 0, 1)'}
_GIRDER_ID = re.compile(r'^([0-9a-f]{24}|[A-Za-z_][A-Za-z0-9_]*)$')


def pixelmap_element(superpixels, girder_id, categories=None, values=None, element_id=None, label=None):
    """Build a ``pixelmap`` element dict for a :class:`~.superpixel_set.SuperpixelSet`.

    :param girder_id: item id of the uploaded label image (24 hex digits), or, in a CLI, the identifier of
        the output parameter that uploads it (slicer_cli_web / our worker replace it with the item id).
    :param categories: list of ``{label, fillColor, strokeColor}``; default one transparent category.
    :param values: category index per superpixel (default all 0).
    """
    girder_id = str(girder_id)
    if not _GIRDER_ID.match(girder_id):
        raise ValueError('girder_id must be a 24-digit hex item id or a parameter identifier, got %r' % girder_id)
    categories = [dict(c) for c in (categories or [DEFAULT_CATEGORY])]
    for category in categories:
        if 'fillColor' not in category:
            raise ValueError('each category needs a fillColor: %r' % (category,))
    count = int(superpixels.count)
    if values is None:
        values = [0] * count
    values = [int(v) for v in values]
    if len(values) != count:
        raise ValueError('values has %d entries for %d superpixels' % (len(values), count))
    if values and (min(values) < 0 or max(values) >= len(categories)):
        raise ValueError('values must index the %d categories' % len(categories))
    scale = float(superpixels.scale)
    element = {
        'type': 'pixelmap',
        'girderId': girder_id,
        'transform': {'xoffset': 0, 'yoffset': 0, 'matrix': [[scale, 0], [0, scale]]},
        'boundaries': True,
        'values': values,
        'categories': categories,
        'user': {'bbox': superpixels.bbox_list()},
    }
    if element_id is not None:
        element['id'] = str(element_id)
    if label is not None:
        element['label'] = {'value': str(label)}
    return element


def pixelmap_annotation(superpixels, girder_id, name='Superpixels', description=None, attributes=None,
                        **kwargs):
    """A whole annotation document holding one pixelmap element (see :func:`pixelmap_element`)."""
    annotation = {'name': name, 'elements': [pixelmap_element(superpixels, girder_id, **kwargs)],
                  'attributes': dict(attributes or {})}
    if description:
        annotation['description'] = description
    return annotation
