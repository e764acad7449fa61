"""USID HDF5 (pyUSID, pycroscopy) <-> pycrox.

`reader` (lazy N-D DataTrees), `writer` (``pycrox.to_usid``), `backend` (``engine="usid"``) and
`mapping` (the layout); the mapping is written down in ``specs/usid-mapping.md``.
"""
