"""Agora ordering service: orders and the checkout saga that takes each one to PAID or CANCELLED.

For now the pure domain only (``agora_ordering.domain``): the Order aggregate and how the saga
answers each reply; the app, its database and its subscribers build on it.
"""

# The chassis first: it cuts library parts no service uses before anything else imports them
# (agora_chassis.lean_imports, ADR 0013), whichever ordering module is imported first.
import agora_chassis  # noqa: F401
