"""GeoJSON per slide, in one zip: a FeatureCollection per slide, written feature by feature.

Coordinates are base-slide pixels (x right, y down), as HistomicsUI and QuPath read them; polygons follow
:mod:`.outlines` (exteriors counterclockwise in x/y, holes clockwise). Each collection's ``properties`` (a
foreign member RFC 7946 allows) names its slide.
"""
import json
import zipfile

DIGITS = 4


def geometry(polygons):
    """A GeoJSON Polygon (one part) or MultiPolygon from :func:`.outlines.mask_polygons`-style polygons."""
    parts = [[ring.round(DIGITS).tolist() for ring in polygon] for polygon in polygons]
    if len(parts) == 1:
        return {'type': 'Polygon', 'coordinates': parts[0]}
    return {'type': 'MultiPolygon', 'coordinates': parts}


class _Collection:
    def __init__(self, stream):
        self.stream, self.count = stream, 0

    def feature(self, polygons, properties):
        """Write one Feature with the outline ``polygons`` and ``properties``."""
        text = json.dumps({'type': 'Feature', 'geometry': geometry(polygons), 'properties': properties},
                          separators=(',', ':'), default=str)
        self.stream.write(((',' if self.count else '') + text).encode())
        self.count += 1


class GeoJSONZip:
    """A zip of FeatureCollections; :meth:`collection` is a context manager that streams one of them."""

    def __init__(self, path):
        self.zip = zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True)
        self.names = []

    def collection(self, name, properties):
        return _Writer(self, name, properties)

    def close(self):
        self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Writer:
    def __init__(self, archive, name, properties):
        self.archive, self.name, self.properties = archive, name, properties

    def __enter__(self):
        self.stream = self.archive.zip.open(self.name, 'w', force_zip64=True)
        head = {'type': 'FeatureCollection', 'properties': self.properties}
        self.stream.write(json.dumps(head, default=str)[:-1].encode() + b',"features":[')
        return _Collection(self.stream)

    def __exit__(self, *exc):
        self.stream.write(b']}')
        self.stream.close()
        self.archive.names.append(self.name)
