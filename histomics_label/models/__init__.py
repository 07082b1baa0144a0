"""Girder models of Histomics Label: one per noun, validation and indexes in the model, access checks
inherited from the project's folder."""
