"""The netcdf store: `reader` opens, `writer` writes."""
