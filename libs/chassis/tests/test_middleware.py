"""HTTP middlewares: request ids, security headers, body limit, timeout, CORS and gzip."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from agora_chassis.errors import install_error_handlers
from agora_chassis.logging import correlation_id
from agora_chassis.middleware import (
    HttpHardeningMiddleware,
    _BodyTooLargeError,
    install_http_middleware,
)

MAX_BODY = 1024 * 1024
ORIGIN = "https://shop.agora.local"
PROBLEM_JSON = "application/problem+json"
UUID7_VERSION = 7


def make_app(*, debug: bool = False, timeout: float = 30.0) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.background_ran = False
    add_body_routes(app)
    add_timing_routes(app)
    install_http_middleware(
        app,
        cors_origins=[ORIGIN],
        max_body_bytes=MAX_BODY,
        debug=debug,
        request_timeout_seconds=timeout,
    )
    return app


def add_body_routes(app: FastAPI) -> None:
    @app.get("/whoami")
    async def whoami() -> dict[str, str | None]:
        return {"correlation_id": correlation_id.get()}

    @app.post("/echo-size")
    async def echo_size(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.post("/json")
    async def json_body(payload: dict[str, str]) -> dict[str, int]:
        return {"keys": len(payload)}

    @app.get("/cached")
    async def cached() -> JSONResponse:
        return JSONResponse({}, headers={"Cache-Control": "public, max-age=60"})

    @app.get("/big")
    async def big() -> PlainTextResponse:
        return PlainTextResponse("x" * 5000)


def add_timing_routes(app: FastAPI) -> None:
    @app.get("/background")
    async def background(tasks: BackgroundTasks) -> dict[str, bool]:
        tasks.add_task(setattr, app.state, "background_ran", True)
        return {"ok": True}

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await anyio.sleep(1)
        return {"ok": True}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first "
            await anyio.sleep(0.2)
            yield b"second"

        return StreamingResponse(chunks(), media_type="text/plain")


def hardened(app: ASGIApp, max_bytes: int = MAX_BODY) -> HttpHardeningMiddleware:
    """The request id, security headers, CORS, deadline and body limit layer alone."""
    return HttpHardeningMiddleware(app, cors_origins=[ORIGIN], max_body_bytes=max_bytes)


def client_for(app: ASGIApp, base_url: str = "http://test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def chunked(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    for _ in range(total // chunk):
        yield b"a" * chunk


async def test_correlation_id_missing_header_generates_uuid7() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami")

    request_id = response.headers["X-Request-ID"]
    assert uuid.UUID(request_id).version == UUID7_VERSION
    assert response.json() == {"correlation_id": request_id}


async def test_correlation_id_sane_header_is_echoed() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami", headers={"X-Request-ID": "abc-123_x.y"})

    assert response.headers["X-Request-ID"] == "abc-123_x.y"
    assert response.json() == {"correlation_id": "abc-123_x.y"}


@pytest.mark.parametrize("offered", ["has space", "semi;colon", "x" * 129])
async def test_correlation_id_unsafe_header_is_replaced(offered: str) -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami", headers={"X-Request-ID": offered})

    assert response.headers["X-Request-ID"] != offered
    assert uuid.UUID(response.headers["X-Request-ID"]).version == UUID7_VERSION


async def test_correlation_id_after_request_context_is_reset() -> None:
    async with client_for(make_app()) as client:
        await client.get("/whoami")

    assert correlation_id.get() is None


async def test_security_headers_plain_request_gets_strict_set() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami")

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


async def test_security_headers_http_request_has_no_hsts() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami")

    assert "Strict-Transport-Security" not in response.headers


async def test_security_headers_https_request_gets_hsts() -> None:
    async with client_for(make_app(), base_url="https://test") as client:
        response = await client.get("/whoami")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_security_headers_own_cache_control_is_kept() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/cached")

    assert response.headers["Cache-Control"] == "public, max-age=60"


async def test_security_headers_docs_in_debug_get_relaxed_csp() -> None:
    async with client_for(make_app(debug=True)) as client:
        response = await client.get("/docs")

    assert "https://cdn.jsdelivr.net" in response.headers["Content-Security-Policy"]


async def test_security_headers_docs_without_debug_keep_strict_csp() -> None:
    async with client_for(make_app(debug=False)) as client:
        response = await client.get("/docs")

    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


async def test_body_limit_large_content_length_gets_413_problem_with_request_id() -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/echo-size", content=b"a" * (MAX_BODY + 1))

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 413
    assert response.json()["instance"] == "/echo-size"
    assert "X-Request-ID" in response.headers


async def test_body_limit_2mb_chunked_body_gets_413_with_request_id() -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/echo-size", content=chunked(2 * MAX_BODY))

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "X-Request-ID" in response.headers


async def test_body_limit_chunked_json_body_gets_413_not_400() -> None:
    async with client_for(make_app()) as client:
        response = await client.post(
            "/json", content=chunked(2 * MAX_BODY), headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 413


async def test_body_limit_body_within_limit_reaches_the_app() -> None:
    async with client_for(make_app()) as client:
        response = await client.post("/echo-size", content=chunked(MAX_BODY))

    assert response.status_code == 200
    assert response.json() == {"size": MAX_BODY}


async def test_body_limit_middleware_alone_stops_reading_at_limit() -> None:
    received: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            received.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                return

    guarded = hardened(app, max_bytes=100)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guarded), base_url="http://test"
    ) as client:
        response = await client.post("/", content=chunked(1000, chunk=60))

    assert response.status_code == 413
    assert sum(received) <= 100


async def test_request_timeout_slow_endpoint_gets_504_problem() -> None:
    async with client_for(make_app(timeout=0.05)) as client:
        response = await client.get("/slow")

    assert response.status_code == 504
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "X-Request-ID" in response.headers


async def test_request_timeout_started_stream_is_not_cut() -> None:
    async with client_for(make_app(timeout=0.1)) as client:
        response = await client.get("/stream")

    assert response.status_code == 200
    assert response.text == "first second"


async def test_request_timeout_middleware_fast_app_is_untouched() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami")

    assert response.status_code == 200


async def test_request_timeout_middleware_default_is_30_seconds() -> None:
    assert hardened(make_app()).seconds == 30.0


async def test_background_tasks_still_run_behind_middlewares() -> None:
    app = make_app()
    async with client_for(app) as client:
        await client.get("/background")

    assert app.state.background_ran is True


async def test_cors_allowed_origin_preflight_is_accepted_with_credentials() -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    async with client_for(make_app()) as client:
        response = await client.options("/echo-size", headers=headers)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Credentials"] == "true"


async def test_cors_unknown_origin_gets_no_allow_origin() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami", headers={"Origin": "https://evil.example"})

    assert "Access-Control-Allow-Origin" not in response.headers


async def test_cors_request_without_origin_still_varies_on_origin() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami")

    assert response.headers.get_list("Vary") == ["Origin"]
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_cors_request_without_origin_keeps_the_apps_own_vary() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/big", headers={"Accept-Encoding": "gzip"})

    assert response.headers.get_list("Vary") == ["Accept-Encoding, Origin"]


async def test_cors_allowed_origin_simple_request_is_granted_and_varies() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami", headers={"Origin": ORIGIN})

    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Expose-Headers"].startswith("X-Request-ID")
    assert response.headers["Vary"] == "Origin"


async def test_correlation_id_replaces_an_id_the_app_set_itself() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"x-request-id", b"the-apps-own"), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async with client_for(hardened(app)) as client:
        response = await client.get("/", headers={"X-Request-ID": "callers-id"})

    assert response.headers.get_list("X-Request-ID") == ["callers-id"]


def test_install_http_middleware_wildcard_origin_raises() -> None:
    with pytest.raises(ValueError, match="explicit"):
        install_http_middleware(FastAPI(), cors_origins=["*"], max_body_bytes=MAX_BODY, debug=False)


async def test_gzip_large_response_is_compressed() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/big", headers={"Accept-Encoding": "gzip"})

    assert response.headers["Content-Encoding"] == "gzip"
    assert response.text == "x" * 5000


async def test_gzip_small_response_is_not_compressed() -> None:
    async with client_for(make_app()) as client:
        response = await client.get("/whoami", headers={"Accept-Encoding": "gzip"})

    assert "Content-Encoding" not in response.headers


async def test_install_http_middleware_lifespan_passes_through() -> None:
    started: list[bool] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started.append(True)
        yield

    app = FastAPI(lifespan=lifespan)
    install_http_middleware(app, cors_origins=[], max_body_bytes=MAX_BODY, debug=False)

    async with LifespanManager(app):
        assert started == [True]


async def test_body_limit_exceeded_after_response_started_is_raised() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive()).get("more_body"):
            pass

    guarded = hardened(app, max_bytes=100)
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with pytest.raises(_BodyTooLargeError):
            await client.post("/", content=chunked(1000, chunk=60))


async def test_body_limit_app_reading_again_after_limit_gets_413() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for _ in range(100):
            try:
                await receive()
            except Exception:  # noqa: BLE001, S112 - an app that ignores the error and reads on
                continue

    guarded = hardened(app, max_bytes=100)
    transport = httpx.ASGITransport(app=guarded)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/", content=chunked(1000, chunk=60))

    assert response.status_code == 413


def _scope(http_version: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "http_version": http_version,
        "method": "POST",
        "path": "/",
        "headers": headers,
    }


async def _drive(
    guarded: HttpHardeningMiddleware, scope: Scope, body: list[bytes]
) -> tuple[list[int], list[int]]:
    """Run ``guarded`` on ``scope`` with ``body`` chunks; return what the app read and statuses."""
    chunks = [
        {"type": "http.request", "body": part, "more_body": i < len(body) - 1}
        for i, part in enumerate(body)
    ]
    statuses: list[int] = []

    async def receive() -> dict[str, object]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(str(message["status"])))

    read: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            read.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded.app = app
    await guarded(scope, receive, send)  # type: ignore[arg-type]
    return read, statuses


async def test_body_limit_http1_request_without_length_or_encoding_is_not_guarded() -> None:
    guarded = hardened(make_app(), max_bytes=10)

    read, statuses = await _drive(guarded, _scope("1.1", []), [b"x" * 50])

    # No framing header means no body in HTTP/1.1; the app gets the server's receive untouched.
    assert read == [50]
    assert statuses == [200]


async def test_body_limit_http2_body_without_length_is_still_counted() -> None:
    guarded = hardened(make_app(), max_bytes=10)

    read, statuses = await _drive(guarded, _scope("2", []), [b"x" * 8, b"x" * 8])

    assert sum(read) <= 10
    assert statuses == [413]
