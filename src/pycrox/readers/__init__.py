"""Vendor file readers, one format per module; each exposes guess_can_open, read_tree and a backend."""
