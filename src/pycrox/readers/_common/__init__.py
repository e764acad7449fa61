"""Helpers every vendor reader shares: values, quantities, dates, companion files, grids."""
