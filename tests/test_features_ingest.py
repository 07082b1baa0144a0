"""The features report route takes a slide's features only when the file fits the slide: a Histomics Label
features file (HDF5), complete, of the project's feature kind, with one non-empty row per superpixel (a file
that is not HDF5 at all is a case of tests/test_malformed_requests.py)."""
import json
import os

import numpy as np
import pytest
from pytest_girder.assertions import assertStatus, assertStatusOk

from conftest import SUPERPIXELS


def upload_features(tmp_path, admin, project, ids, values, kind='embedding', name='features.h5'):
    from girder.models.upload import Upload

    from histomics_label.core.features.store import write_features
    from histomics_label.models.project import Project

    path = str(tmp_path / name)
    write_features(path, ids, values, kind)
    with open(path, 'rb') as f:
        return Upload().uploadFromFile(f, os.path.getsize(path), name, parentType='folder',
                                       parent=Project().data_folder(project, admin), user=admin)


def upload_hdf5(tmp_path, admin, project, name, datasets, **attrs):
    """An HDF5 file written by hand: ``datasets`` (name -> array) and file attributes."""
    import h5py
    from girder.models.upload import Upload

    from histomics_label.models.project import Project

    path = str(tmp_path / name)
    with h5py.File(path, 'w') as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)
        f.attrs.update(attrs)
    with open(path, 'rb') as f:
        return Upload().uploadFromFile(f, os.path.getsize(path), name, parentType='folder',
                                       parent=Project().data_folder(project, admin), user=admin)


def report(server, admin, project, slide, file):
    return server.request('/histomics_label/project/%s/slide/%s/features' % (project['_id'], slide['itemId']),
                          method='POST', user=admin,
                          params={'outputs': json.dumps({'outputFeatures': {'fileId': str(file['_id'])}})})


@pytest.mark.plugin('histomics_label')
def test_features_that_do_not_fit_the_slide_are_refused(server, admin, project, segmented, tmp_path):
    from histomics_label.models.slide import ProjectSlide

    rows = np.ones((SUPERPIXELS, 8), dtype=np.float32)
    cases = [
        (upload_features(tmp_path, admin, project, np.arange(SUPERPIXELS - 1), rows[:-1]),
         'its ids are not the %d superpixels of the slide' % SUPERPIXELS),
        (upload_features(tmp_path, admin, project, np.r_[np.arange(SUPERPIXELS - 1), 0], rows),
         'its ids are not the %d superpixels' % SUPERPIXELS),
        (upload_features(tmp_path, admin, project, np.arange(SUPERPIXELS),
                         np.zeros((SUPERPIXELS, 4, 4, 3), dtype=np.uint8), kind='patches'),
         "its kind is 'patches', the project uses 'embedding'"),
    ]
    ours = {'format': 'histomics_label.features', 'format_version': 1, 'kind': 'embedding', 'complete': True}
    ids = np.arange(SUPERPIXELS)
    hand_written = [  # name, datasets, attributes, message
        ('other.h5', {'ids': ids, 'x': rows}, {}, 'is not usable as features: it is not a Histomics Label features'),
        ('partial.h5', {'ids': ids, 'embeddings': rows}, dict(ours, complete=False),
         'is not usable as features: it is incomplete (its extraction did not finish)'),
        ('short.h5', {'ids': ids, 'embeddings': rows[:-1]}, ours,
         'is not usable as features: it has %d rows for %d ids' % (SUPERPIXELS - 1, SUPERPIXELS)),
        ('empty.h5', {'ids': ids, 'embeddings': np.zeros((SUPERPIXELS, 0), np.float32)}, ours, 'its rows are empty'),
    ]
    for name, datasets, attrs, message in hand_written:
        cases.append((upload_hdf5(tmp_path, admin, project, name, datasets, **attrs), message))
    for file, message in cases:
        resp = report(server, admin, project, segmented, file)
        assertStatus(resp, 400)
        assert message in resp.json['message']
    assert ProjectSlide().load(segmented['_id'])['features'] == segmented['features']

    good = upload_features(tmp_path, admin, project, np.arange(SUPERPIXELS)[::-1], rows, name='good.h5')
    resp = report(server, admin, project, segmented, good)
    assertStatusOk(resp)
    assert resp.json['features']['status'] == 'done' and resp.json['features']['fileId'] == str(good['_id'])
