"""The optional library parts cut by ``agora_chassis.lean_imports`` stay out of a service, and the
libraries still work without them (ADR 0013). Each check runs in a fresh interpreter: this test
process has imported everything, so a cut here would prove nothing."""

from __future__ import annotations

import json
import subprocess
import sys

from agora_chassis.lean_imports import CUT_MODULES

# What the cut modules would pull in besides themselves, and gRPC, which a service imports only
# to serve or call it (agora_chassis.errors recognises a gRPC error without importing grpc).
NEVER_LOADED = (*CUT_MODULES, "rich", "pygments", "grpc")

# A service app on NATS without gRPC, exporting no spans, as `agora up` runs one: uvicorn's
# command line first (`python -m uvicorn` imports it before the app), then the app factory.
BUILD_A_SERVICE = """
import json, sys
import uvicorn.main
import agora_chassis.messaging
from agora_chassis.app import create_service_app
from agora_chassis.settings import ServiceSettings
settings = ServiceSettings(broker_url="nats://127.0.0.1:4222", otel_exporter="none")
create_service_app(settings, title="lean", routers=[])
print(json.dumps(sorted(m for m in sys.argv[1:] if sys.modules.get(m) is not None)))
"""

# httpx, a FastAPI route with a Pydantic body, redis-py and the trace SDK, with the cuts in place.
USE_THE_LIBRARIES = """
import http.server, json, sys, threading
import agora_chassis
import httpx, redis.asyncio
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel
from redis.observability import providers

server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
fetched = httpx.get(f"http://127.0.0.1:{server.server_port}/").status_code
server.shutdown()

class Item(BaseModel):
    name: str

app = FastAPI()

@app.post("/items")
def echo(item: Item) -> Item:
    return item

posted = TestClient(app).post("/items", json={"name": "lamp"}).json()
rejected = TestClient(app).post("/items", json={}).status_code
with TracerProvider().get_tracer("lean").start_as_current_span("span") as span:
    traced = span.get_span_context().is_valid
redis.asyncio.Redis.from_url("redis://127.0.0.1:1/0")
print(json.dumps({
    "fetched": fetched, "posted": posted, "rejected": rejected, "traced": traced,
    "redis_otel_metrics": providers.OTEL_AVAILABLE,
    "loaded": sorted(m for m in sys.argv[1:] if sys.modules.get(m) is not None),
}))
"""


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False
    )


def run_fresh(script: str, *args: str) -> object:
    result = run(script, *args)
    assert result.returncode == 0, f"the script failed in a fresh interpreter:\n{result.stderr}"
    return json.loads(result.stdout.splitlines()[-1])


def test_a_service_without_grpc_loads_no_cut_module_nor_grpc() -> None:
    loaded = run_fresh(BUILD_A_SERVICE, *NEVER_LOADED)
    assert loaded == [], f"a NATS service app without gRPC loaded {loaded}"


def test_httpx_fastapi_redis_and_tracing_still_work_with_the_cuts() -> None:
    outcome = run_fresh(USE_THE_LIBRARIES, *CUT_MODULES)
    assert outcome == {
        "fetched": 200,
        "posted": {"name": "lamp"},
        "rejected": 422,
        "traced": True,
        "redis_otel_metrics": False,
        "loaded": [],
    }, f"a library misbehaved with {CUT_MODULES} cut: {outcome}"


def test_an_import_of_a_cut_module_fails_as_if_it_were_not_installed() -> None:
    script = "import agora_chassis, importlib, sys\n" + "\n".join(
        f"try:\n    importlib.import_module({name!r})\n    sys.exit('{name} imported')\n"
        "except ImportError:\n    pass"
        for name in CUT_MODULES
    )
    result = run(script)
    assert result.returncode == 0, f"a cut module was imported: {result.stderr}"


def test_a_module_imported_before_the_chassis_is_left_alone() -> None:
    script = "import httpx._main, agora_chassis, sys; print(sys.modules['httpx._main'] is not None)"
    result = run(script)
    assert result.stdout.strip() == "True", f"the cut unloaded a module: {result.stderr}"
