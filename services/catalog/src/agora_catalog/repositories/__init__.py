"""Catalog's repositories layer."""
