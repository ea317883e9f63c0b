"""Identity's HTTP API (FastAPI routers, /api/v1)."""
