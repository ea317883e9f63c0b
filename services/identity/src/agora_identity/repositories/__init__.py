"""Identity's data access: SQL only, returns models, never commits."""
