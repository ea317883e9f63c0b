"""Package.

Importing any chassis module first cuts the optional library parts no service uses
(:mod:`agora_chassis.lean_imports`, ADR 0013): it must run before httpx, redis-py or FastAPI
routes import them.
"""

from agora_chassis.lean_imports import cut_unused_modules

cut_unused_modules()
