"""Use cases: rendering and sending notifications."""
