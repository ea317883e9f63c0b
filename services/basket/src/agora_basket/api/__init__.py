"""api of the basket service."""
