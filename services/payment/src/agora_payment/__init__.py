"""Agora payment service: charges orders at the payment provider and refunds them."""

# The chassis first: it cuts library parts no service uses before httpx can import them
# (agora_chassis.lean_imports, ADR 0013), whichever payment module is imported first.
import agora_chassis  # noqa: F401
