"""Queries on payment's tables."""
