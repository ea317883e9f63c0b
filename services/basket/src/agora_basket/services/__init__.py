"""services of the basket service."""
