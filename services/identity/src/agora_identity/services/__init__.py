"""Identity's business rules (no FastAPI, no commit())."""
