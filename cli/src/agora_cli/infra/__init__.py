"""Embedded infrastructure: PostgreSQL, Valkey, NATS JetStream and Traefik, run as processes."""
