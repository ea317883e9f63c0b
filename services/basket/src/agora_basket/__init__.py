"""Agora basket service: one basket per shopper in Redis, priced by the catalog on every read."""

# The chassis first: it cuts library parts no service uses before redis-py can import them
# (agora_chassis.lean_imports, ADR 0013), whichever basket module is imported first.
import agora_chassis  # noqa: F401
