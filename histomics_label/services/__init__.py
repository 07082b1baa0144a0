"""Work done inside REST requests that spans several models: HistomicsUI pixelmap annotations of a project,
and the import of Histomics Label v1 projects."""
