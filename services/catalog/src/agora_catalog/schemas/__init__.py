"""Catalog's schemas layer."""
