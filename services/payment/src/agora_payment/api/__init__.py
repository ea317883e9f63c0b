"""Payment's REST routers (admin only)."""
