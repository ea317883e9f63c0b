"""Catalog's events layer."""
