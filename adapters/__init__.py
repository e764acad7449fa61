"""Adapters between the pycrox data model and the pycroscopy ecosystem's HDF5 formats (NSID, USID)."""
