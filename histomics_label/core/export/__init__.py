"""Writers of a project export (GeoJSON, label masks, COCO, Parquet) over arrays and iterators.

Nothing here imports Girder: the Girder side (``histomics_label.services.export``) reads the database and the
label images and feeds these writers slide by slide, chunk by chunk, so memory stays bounded by a chunk.
"""
