"""Gzip: small whole answers go out as they are, others through Starlette's responder."""

from __future__ import annotations

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from agora_chassis.middleware import SmallAnswerGZipMiddleware


def client_for(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _answer(*chunks: bytes, length: bool = True) -> ASGIApp:
    """An ASGI app answering with ``chunks`` as body messages (a Content-Length, unless not)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/plain")]
        if length:
            headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, chunk in enumerate(chunks):
            more = index < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return SmallAnswerGZipMiddleware(app, minimum_size=100)


GZIP = {"Accept-Encoding": "gzip"}


async def test_gzip_small_whole_answer_goes_out_as_it_is() -> None:
    async with client_for(_answer(b"small")) as client:
        response = await client.get("/", headers=GZIP)

    assert (response.text, response.headers["Content-Length"]) == ("small", "5")
    assert "Content-Encoding" not in response.headers
    assert "Vary" not in response.headers  # as Starlette answers a small body


async def test_gzip_large_answer_is_compressed_by_starlettes_responder() -> None:
    async with client_for(_answer(b"x" * 500)) as client:
        response = await client.get("/", headers=GZIP)

    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.text == "x" * 500


async def test_gzip_streamed_answer_is_compressed_even_when_its_first_chunk_is_small() -> None:
    async with client_for(_answer(b"a" * 10, b"b" * 300, length=False)) as client:
        response = await client.get("/", headers=GZIP)

    assert response.headers["Content-Encoding"] == "gzip"
    assert response.text == "a" * 10 + "b" * 300


async def test_gzip_without_accept_encoding_is_starlettes_identity_answer() -> None:
    async with client_for(_answer(b"x" * 500)) as client:
        response = await client.get("/", headers={"Accept-Encoding": "identity"})

    assert "Content-Encoding" not in response.headers
    assert response.headers["Vary"] == "Accept-Encoding"
