"""Slicer CLIs of Histomics Label (each a folder with an XML spec and a script)."""
