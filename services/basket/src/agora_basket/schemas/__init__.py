"""schemas of the basket service."""
