"""Agora catalog service: products, categories, stock and reservations."""
