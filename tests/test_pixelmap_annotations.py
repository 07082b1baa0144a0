"""The pixelmap annotations HistomicsUI draws for a project keep the tissue visible under their colours."""
def test_histomicsui_pixelmaps_fill_translucently():
    from histomics_label.services.pixelmap_annotations import translucent

    assert translucent('#1f77b4') == 'rgba(31, 119, 180, 0.4)'
    assert translucent('#ff000080') == 'rgba(255, 0, 0, 0.201)'  # its own alpha (128/255) times 0.4
    assert translucent('rgb(1, 2, 3)', 0.5) == 'rgba(1, 2, 3, 0.5)'
    assert translucent('rgba(10,20,30,0.5)') == 'rgba(10, 20, 30, 0.2)'
