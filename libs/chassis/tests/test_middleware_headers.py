"""The exact response header set of every kind of answer through the chassis's HTTP middlewares.

``HttpHardeningMiddleware`` does in one pass what five layers did one after another (request id,
security headers, CORS, deadline, body limit). These sets were taken from the five layers before
the merge; a change to any of them, on any kind of answer, is a change of behaviour.
"""

from __future__ import annotations

import pytest

from libs.chassis.tests.test_middleware import MAX_BODY, ORIGIN, client_for, make_app

OURS = [
    "cache-control",
    "content-security-policy",
    "permissions-policy",
    "referrer-policy",
    "vary",
    "x-content-type-options",
    "x-frame-options",
    "x-request-id",
]
JSON = ["content-length", "content-type"]
CORS = ["access-control-allow-credentials", "access-control-allow-origin"]
EXPOSED = ["access-control-expose-headers"]
PREFLIGHT = [
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-max-age",
]
TOO_LARGE = b"a" * (MAX_BODY + 1)
SLOW = 0.05

# name: (method, path, request headers, body, base url, deadline), status, header names, Vary
CASES = {
    "plain": (("GET", "/whoami", {}, None, "http", 30), 200, JSON, "Origin"),
    "https": (
        ("GET", "/whoami", {}, None, "https", 30),
        200,
        [*JSON, "strict-transport-security"],
        "Origin",
    ),
    "own cache-control": (("GET", "/cached", {}, None, "http", 30), 200, JSON, "Origin"),
    "gzip": (
        ("GET", "/big", {"Accept-Encoding": "gzip"}, None, "http", 30),
        200,
        [*JSON, "content-encoding"],
        "Accept-Encoding, Origin",
    ),
    "stream": (
        ("GET", "/stream", {}, None, "http", 30),
        200,
        ["content-type", "content-encoding"],
        "Accept-Encoding, Origin",
    ),
    "not found": (("GET", "/nowhere", {}, None, "http", 30), 404, JSON, "Origin"),
    "413": (("POST", "/echo-size", {}, TOO_LARGE, "http", 30), 413, JSON, "Origin"),
    "504": (("GET", "/slow", {}, None, "http", SLOW), 504, JSON, "Origin"),
    "origin": (
        ("GET", "/whoami", {"Origin": ORIGIN}, None, "http", 30),
        200,
        [*JSON, *CORS, *EXPOSED],
        "Origin",
    ),
    "origin 504": (
        ("GET", "/slow", {"Origin": ORIGIN}, None, "http", SLOW),
        504,
        [*JSON, *CORS, *EXPOSED],
        "Origin",
    ),
    "origin 413": (
        ("POST", "/echo-size", {"Origin": ORIGIN}, TOO_LARGE, "http", 30),
        413,
        [*JSON, *CORS, *EXPOSED],
        "Origin",
    ),
    "preflight": (
        (
            "OPTIONS",
            "/echo-size",
            {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
            None,
            "http",
            30,
        ),
        200,
        [*JSON, *CORS, *PREFLIGHT],
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
        "Access-Control-Request-Private-Network",
    ),
}


@pytest.mark.parametrize(("request_", "status", "own", "vary"), CASES.values(), ids=CASES.keys())
async def test_answer_has_exactly_the_documented_headers(
    request_: tuple[str, str, dict[str, str], bytes | None, str, float],
    status: int,
    own: list[str],
    vary: str,
) -> None:
    method, path, headers, body, scheme, deadline = request_
    async with client_for(make_app(timeout=deadline), base_url=f"{scheme}://test") as client:
        response = await client.request(method, path, headers=headers, content=body)

    names = sorted(name.decode() for name, _ in response.headers.raw)
    assert response.status_code == status, f"{method} {path}: status {response.status_code}"
    assert names == sorted([*OURS, *own]), f"{method} {path}: header set changed"
    assert response.headers.get_list("Vary") == [vary], f"{method} {path}: Vary changed"
