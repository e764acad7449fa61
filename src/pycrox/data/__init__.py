"""Data files shipped with pycrox (the unit spelling table)."""
