"""NSID HDF5 (pyNSID / sidpy) <-> pycrox."""
