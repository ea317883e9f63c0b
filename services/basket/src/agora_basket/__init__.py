"""Agora basket service: one basket per shopper in Redis, priced by the catalog on every read."""
