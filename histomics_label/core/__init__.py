"""Compute core: pure Python/numpy; imports nothing from girder."""
