"""Catalog's gRPC layer: the internal CatalogService."""
