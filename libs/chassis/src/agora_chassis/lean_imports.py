"""Optional parts of libraries a service never uses, cut before anything imports them (ADR 0013).

A service process keeps every module it imported for its whole life: code objects, classes and
their dicts are anonymous memory that no other process shares. Three libraries import optional
parts at import time, each inside ``try: ... except ImportError:`` so that the library still works
when that part is not installed. Setting ``sys.modules[name] = None`` makes ``import name`` raise
``ImportError`` at once (documented in the import system reference), so each library takes the
branch it already has for "not installed":

- ``httpx._main``: httpx's ``__init__`` imports its command-line client (rich, pygments, click,
  about 70 modules, 3 MiB) to expose ``httpx.main``; without it ``httpx.main`` prints "install
  httpx[cli]". A service uses httpx as a client only; the ``httpx`` console script runs in its own
  interpreter, which never imports this module, so it keeps working.
- ``opentelemetry.sdk.metrics``: redis-py's ``redis.observability.providers`` imports the metrics
  SDK (about 30 modules, 1 MiB) and sets ``OTEL_AVAILABLE = False`` without it. That only turns off
  redis-py's own OpenTelemetry metrics, which need ``get_observability_instance().init(...)``, a
  call no service makes; our traces use the trace SDK, which does not import the metrics SDK.
- ``pydantic.v1``: FastAPI imports Pydantic's v1 compatibility layer (26 modules, 1.4 MiB) on each
  route only to reject v1 models (``is_pydantic_v1_model_class`` returns ``False`` on
  ``ImportError``). Every model here is a v2 ``BaseModel``; a v1 model now fails Pydantic's own
  way instead of with FastAPI's message.

``agora_chassis/__init__.py`` runs this before any of its modules, so the cut holds in every
process that imports the chassis before those libraries (every service: each one's modules import
the chassis first; ``test_lean_imports.py`` builds the registered services in fresh interpreters
and fails if a cut module is loaded, and exercises each library's public API with the cut in place).
A process that imported one of them already is left as it is.
"""

from __future__ import annotations

import sys

CUT_MODULES = ("httpx._main", "opentelemetry.sdk.metrics", "pydantic.v1")
"""Modules a service never needs, each behind its library's own ``except ImportError``."""


def cut_unused_modules() -> None:
    """Make each of :data:`CUT_MODULES` raise ``ImportError`` when imported from now on.

    A module already imported (a test run, a tool that loaded it first) stays: the cut only keeps
    new imports out, it never unloads anything.
    """
    for name in CUT_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
