"""repositories of the basket service."""
