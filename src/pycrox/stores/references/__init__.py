"""The references store: `reader` opens, `writer` writes."""
