"""Analysis: pure functions on pycrox xarray objects, reached through the ``.pycro`` accessor."""
