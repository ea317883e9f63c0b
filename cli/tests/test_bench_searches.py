"""Uncached searches for ``agora bench catalog``: distinct texts, typos, one run per via."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import pytest

from agora_cli.bench import Options
from agora_cli.bench import catalog as bench
from agora_cli.bench.load import open_endpoint
from agora_cli.bench.searches import NAMED_TYPOS, WARM, typos, uncached


def test_typos_are_one_edit_away_and_only_for_long_words() -> None:
    found = typos("gaming")
    assert {"agming", "gmaing", "gaimng", "gamign", "gamin"} <= set(found)  # swaps, a drop
    assert {"gamming", "gaaming"} <= set(found)  # a doubled letter
    assert "gaming" not in found
    assert len(found) == len(set(found))
    assert typos("wok") == [], "words under five letters get no typo"
    assert typos("x-ray") == []


def test_uncached_searches_are_distinct_and_start_with_the_named_typos() -> None:
    texts = uncached(5000)
    assert len(texts) == len(set(texts)) == 5000
    assert texts[: len(NAMED_TYPOS)] == list(NAMED_TYPOS)
    assert {"hedphones", "Gaimng", "Cosatal"} <= set(texts)
    assert not set(texts) & set(WARM), "a warm search text would be cached already"
    sample = texts[100:140]  # every slice mixes the kinds
    assert any(len(text.split()) == 1 for text in sample)
    assert any(len(text.split()) == 3 for text in sample)


def test_the_vocabulary_bounds_the_count() -> None:
    assert len(uncached(10**6)) < 10**6
    assert uncached(3) == list(NAMED_TYPOS[:3])


@asynccontextmanager
async def recording_port() -> AsyncIterator[tuple[list[str], str]]:
    """A stand-in for the catalog answering 200 to everything; the paths asked for."""
    paths: list[str] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while head := await reader.readuntil(b"\r\n\r\n"):
                paths.append(head.split(b" ")[1].decode())
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield paths, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        server.close_clients()


def searched(paths: list[str]) -> list[str]:
    return [parse_qs(urlsplit(path).query)["q"][0] for path in paths if "q=" in path]


async def test_each_via_searches_texts_no_other_run_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = bench._Run(Options(requests=40, concurrency=4, generator="python"), None)
    async with (
        recording_port() as (gateway_paths, gateway_url),
        recording_port() as (direct_paths, direct_url),
        open_endpoint(gateway_url, 4) as gateway,
        open_endpoint(direct_url, 4) as direct,
    ):
        await run.uncached({"gateway": gateway, "direct": direct})
    counts = {row.key: (row.result.requests, row.result.errors) for row in run.rows}
    assert counts == {
        "search_uncached.gateway.miss": (40, 0),
        "search_uncached.direct.miss": (40, 0),
    }
    via_gateway, direct_texts = searched(gateway_paths), searched(direct_paths)
    assert len(set(via_gateway)) == len(via_gateway) == 40, "each search is sent once"
    assert len(set(direct_texts)) == 40
    assert not set(via_gateway) & set(direct_texts), "the direct run would hit the gateway's cache"
    assert "hedphones" in via_gateway + direct_texts
    assert "search, uncached, direct, miss:" in capsys.readouterr().err


def test_a_wrk_run_gets_texts_for_its_duration() -> None:
    run = bench._Run(Options(duration=3, generator="wrk"), None)
    assert run.uncached_count() == 3 * bench.UNCACHED_PER_SECOND
    assert bench._Run(Options(requests=70, generator="python"), None).uncached_count() == 70
    many = bench._Run(Options(requests=5000, generator="python"), None)
    assert many.uncached_count() == bench.UNCACHED_MAX_REQUESTS
