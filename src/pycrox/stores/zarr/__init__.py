"""The zarr store: `reader` opens, `writer` writes."""
