"""Catalog's api layer."""
