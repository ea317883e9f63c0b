"""Agora identity service: users, roles, OAuth2 tokens with refresh rotation, JWKS, audit log."""
