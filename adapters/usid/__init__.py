"""USID HDF5 (pyUSID) <-> pycrox."""
