"""Demo data: a deterministic catalogue (``generate``) and its idempotent loader (``load``).

Run ``python -m agora_catalog.seed [--count N]`` with the service's environment (``agora seed``
does that for the running stack).
"""
