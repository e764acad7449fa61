"""Stores every xarray tool reads: Zarr, netCDF and reference sets, one package each like a format."""
