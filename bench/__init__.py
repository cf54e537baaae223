"""Reproducible measurements of the workbook and its lab (``make bench``)."""
