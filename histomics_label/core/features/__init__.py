"""Features per superpixel: masked image patches, and embedding vectors from a backbone.

``extract.extract_features`` is the entry point; ``backbones.get_backbone`` the backbone registry;
``store`` the HDF5 format shared by the CLIs and the training code.
"""
