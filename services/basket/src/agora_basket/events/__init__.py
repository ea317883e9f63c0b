"""Basket's event consumer."""
