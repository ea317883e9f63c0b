"""Cross-service tests (system journeys, fault injection)."""
