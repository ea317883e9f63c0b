"""Payment's API schemas."""
