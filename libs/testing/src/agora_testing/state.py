"""A :class:`ServiceState` for a bare test app (one that ``create_service_app`` did not build).

Tests of one chassis piece (the transaction dependency, a rate limit, token checks) mount it on a
plain ``FastAPI()``; the piece reads the app's typed state, so the test attaches one here and
replaces the resources it cares about.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.applications import Starlette

from agora_chassis.app import build_service_state
from agora_chassis.settings import ServiceSettings
from agora_chassis.state import ServiceState, attach_service_state


def attach_test_state(
    app: Starlette, settings: ServiceSettings | None = None, **resources: Any
) -> ServiceState:
    """Attach a service state built from ``settings`` (defaults), with ``resources`` replaced.

    Nothing connects: the engine, limiters and key cache built here stay idle until used.

    Args:
        app: The bare app.
        settings: Settings to build from; ``ServiceSettings()`` when omitted.
        **resources: :class:`ServiceState` fields to replace (e.g. ``sessionmaker=...``).

    Returns:
        The attached state.
    """
    state = build_service_state(settings or ServiceSettings(service_name="test"))
    return attach_service_state(app, dataclasses.replace(state, **resources))
