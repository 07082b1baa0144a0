"""Features per superpixel: masked image patches, and embedding vectors from a backbone.

``extract.extract_features`` is the entry point; ``patches`` cuts (and masks) the patches,
``backbones.get_backbone`` is the backbone registry, and ``store`` defines the features file (HDF5 or npz)
shared by the CLIs and the training code.
"""
