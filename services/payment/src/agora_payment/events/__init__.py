"""Payment's event consumer."""
