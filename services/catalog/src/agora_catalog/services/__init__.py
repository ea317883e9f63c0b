"""Catalog's services layer."""
