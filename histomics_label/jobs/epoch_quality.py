"""After an epoch is published: cross-validate its model kind on its labels and store the result with the epoch
(``POST project/{id}/epoch/{n}/quality``), for the resident trainer and the TrainAndPredict CLI alike.

Talks to Girder through a girder_client only; the metrics are :func:`..core.training.labeled_quality`'s.
"""
from histomics_label.core.training import labeled_quality


def post_quality(client, project_id, manifest, features, log):
    """Measure and post the quality of ``manifest``'s epoch on ``features`` (FeatureBlocks or ``{slide index:
    (ids, values)}``). The epoch is published already, so a failure is passed to ``log`` (a callable taking a
    line), not raised. Returns the quality or None."""
    try:
        quality = labeled_quality(features, manifest['labels'], manifest['categories'],
                                  manifest.get('excluded', []), manifest.get('modelKind', 'mlp'),
                                  manifest.get('modelBackend') or None, manifest.get('seed', 0))
        client.post('histomics_label/project/%s/epoch/%d/quality' % (project_id, manifest['epoch']),
                    json=quality_body(quality, manifest))
        return quality
    except Exception as exc:
        log('The quality estimate of epoch %d failed: %r' % (manifest['epoch'], exc))
        return None


def quality_body(quality, manifest):
    """What ``POST project/{id}/epoch/{n}/quality`` takes: the confusion over category ids."""
    return {'categoryIds': [manifest['categories'][c] for c in quality['classes']],
            'confusion': quality['confusion'], 'labels': quality['labels'], 'folds': quality['folds']}


def macro_f1_text(quality):
    """The macro-F1 of a posted quality for a progress message ('n/a' without one)."""
    return 'n/a' if quality is None or quality['macroF1'] is None else '%.3f' % quality['macroF1']
