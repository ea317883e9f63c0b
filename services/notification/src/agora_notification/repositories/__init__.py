"""Data access, one repository per aggregate, bound to a session."""
