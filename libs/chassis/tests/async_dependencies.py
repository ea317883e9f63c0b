"""Find the endpoints and dependencies FastAPI would run in its thread pool.

FastAPI awaits a coroutine function (or async generator) on the event loop; anything else, a sync
function or a class (a Pydantic model under ``Depends()`` included), runs in a worker thread: a
thread hop per call, a measurable share of a cached read's CPU. Services assert that their apps
have none (``assert sync_dependencies(app) == []``), so the failure names each offender.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts


def _target(call: Callable[..., Any]) -> Any:
    while isinstance(call, functools.partial):
        call = call.func
    return inspect.unwrap(call)


def runs_on_event_loop(call: Callable[..., Any]) -> bool:
    """Whether FastAPI awaits ``call`` rather than sending it to a thread.

    Args:
        call: An endpoint or a dependency: a function, a partial, or an instance whose
            ``__call__`` does the work (``HTTPBearer``).
    """
    target = _target(call)
    if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target):
        return True
    if inspect.isclass(target):
        return False  # instantiated in the thread pool
    method = getattr(target, "__call__", None)  # noqa: B004 - the method itself is what we inspect
    return inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """The endpoint and every dependency under it, depth first."""
    if dependant.call is not None:
        yield dependant.call
    for sub_dependant in dependant.dependencies:
        yield from _calls(sub_dependant)


def _name(call: Callable[..., Any]) -> str:
    target = _target(call)
    named = target if hasattr(target, "__qualname__") else type(target)
    return f"{named.__module__}.{named.__qualname__}"


def _route_calls(app: FastAPI) -> Iterator[tuple[str, Callable[..., Any]]]:
    """``("GET /path", call)`` for each endpoint and dependency, as the app serves its routes.

    Routers' own dependencies (``include_router(..., dependencies=...)``) are included.
    """
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            methods = ",".join(sorted(route.methods or ()))
            for call in _calls(route.dependant):
                yield f"{methods} {route.path}", call


def dependency_names(app: FastAPI) -> set[str]:
    """Every endpoint and dependency of the app, sync or not (to check the walk reached them)."""
    return {_name(call) for _, call in _route_calls(app)}


def sync_dependencies(app: FastAPI) -> list[str]:
    """``"GET /path: module.function"`` for each sync endpoint or dependency of the app."""
    found = (
        f"{route}: {_name(call)}"
        for route, call in _route_calls(app)
        if not runs_on_event_loop(call)
    )
    return list(dict.fromkeys(found))
