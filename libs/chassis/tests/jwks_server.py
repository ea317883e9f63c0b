"""A JWKS endpoint on a real HTTP server (``http.server``, free loopback port), for cache tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class KeyServer:
    """Serves ``{"keys": [...]}`` at ``/jwks.json``; counts requests; can answer 503."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.requests = 0
        self.up = True
        self.requested = threading.Event()  # set by every request
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                server.requested.set()
                status = HTTPStatus.OK if server.up else HTTPStatus.SERVICE_UNAVAILABLE
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"

    def publish(self, kid: str) -> None:
        public = Ed25519PrivateKey.generate().public_key()
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(public, as_dict=True)
        self.keys.append(jwk | {"kid": kid, "alg": "EdDSA", "use": "sig"})


@contextmanager
def serving_keys() -> Iterator[KeyServer]:
    """A :class:`KeyServer` publishing one key, ``k1``, served in a thread for the block."""
    server = KeyServer()
    server.publish("k1")
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join()
