"""Every registered service, built as `agora up` runs it, loads none of the library parts the
chassis cuts (``agora_chassis.lean_imports``), and no gRPC unless it serves or calls gRPC, and has
no WebSocket route (uvicorn runs them with ``--ws none``); ADR 0013. The cut only holds when a
service imports the chassis before httpx, redis-py and its routes: this fails when a service's
modules import one of those first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from agora_chassis.lean_imports import CUT_MODULES
from agora_cli.service_process import uvicorn_argv
from agora_cli.services import SERVICES, ServiceSpec

# As `python -m uvicorn <module>:<factory> --factory`: uvicorn's command line, then the factory.
BUILD = """
import importlib, json, sys
import uvicorn.main
from starlette.routing import WebSocketRoute
module, factory = sys.argv[1].split(":")
app = getattr(importlib.import_module(module), factory)()
print(json.dumps({
    "loaded": sorted(m for m in sys.argv[2:] if sys.modules.get(m) is not None),
    "websocket_routes": [r.path for r in app.routes if isinstance(r, WebSocketRoute)],
}))
"""


@pytest.mark.parametrize("spec", SERVICES, ids=lambda spec: spec.name)
def test_a_registered_service_loads_no_cut_module(spec: ServiceSpec) -> None:
    unused = (*CUT_MODULES, "rich", "pygments")
    if not (spec.grpc or spec.service_scopes):
        unused = (*unused, "grpc")
    env = {"AGORA_BROKER_URL": "nats://127.0.0.1:4222", "AGORA_OTEL_EXPORTER": "none"}
    if spec.service_scopes:  # as `agora up` sets them for a service that calls others
        env |= {"AGORA_SERVICE_CLIENT_ID": spec.name, "AGORA_SERVICE_CLIENT_SECRET": "lean-test"}
    result = subprocess.run(
        [sys.executable, "-c", BUILD, spec.app, *unused],
        capture_output=True,
        text=True,
        check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}, **env},
    )
    assert result.returncode == 0, f"{spec.name}'s app could not be built:\n{result.stderr}"
    built = json.loads(result.stdout.splitlines()[-1])
    assert built["loaded"] == [], f"{spec.name} loaded {built['loaded']}, which it never uses"
    # uvicorn runs the services with `--ws none`: a WebSocket route would never be reached.
    assert built["websocket_routes"] == [], f"{spec.name} has WebSocket routes; drop `--ws none`"


def test_services_run_without_websocket_support() -> None:
    argv = uvicorn_argv("python", SERVICES[0], 8101)
    assert argv[argv.index("--ws") + 1] == "none", f"uvicorn would load websockets: {argv}"
