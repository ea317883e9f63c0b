"""Search relevance over the demo catalogue: top-1 and top-5 hit rates of ``relevance_set.toml``.

The floors are the rates measured when typo tolerance landed (ADR 0015, benchmarks/README.md
"catalog search relevance"); a change that lowers them fails here. The cases marked ``must`` (the
typos of issue 13) have to put a relevant product first on their own.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agora_catalog.seed.generate import generate
from agora_catalog.seed.load import load_catalogue
from agora_chassis.state import service_state

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)

RELEVANCE_SET = Path(__file__).resolve().parents[1] / "relevance_set.toml"
TOP = 5
TOP1_FLOOR = 0.96
TOP5_FLOOR = 0.96
MIN_CASES = 40


@dataclass(frozen=True)
class Case:
    """One query and what a relevant result contains."""

    q: str
    expect: tuple[str, ...]
    kind: str
    must: bool


def _cases() -> list[Case]:
    raw = tomllib.loads(RELEVANCE_SET.read_text())["case"]
    return [Case(c["q"], tuple(c["expect"]), c["kind"], c.get("must", False)) for c in raw]


def _paths(tree: list[dict[str, Any]], above: str = "") -> dict[str, str]:
    """Category id -> "Top > Sub > Leaf"."""
    paths: dict[str, str] = {}
    for node in tree:
        path = f"{above} > {node['name']}" if above else node["name"]
        paths[node["id"]] = path
        paths |= _paths(node["children"], path)
    return paths


def _relevant(product: dict[str, Any], case: Case, paths: dict[str, str]) -> bool:
    text = f"{product['name']} | {product['brand']} | {paths[product['category_id']]}".lower()
    return all(expected in text for expected in case.expect)


@dataclass(frozen=True)
class Outcome:
    """Where a case's first relevant result came (``None``: not in the top ``TOP``), and the top."""

    rank: int | None
    top: list[str]


async def _outcomes(client: httpx.AsyncClient, cases: list[Case]) -> dict[Case, Outcome]:
    paths = _paths((await client.get("/api/v1/categories")).json())
    outcomes: dict[Case, Outcome] = {}
    for case in cases:
        response = await client.get("/api/v1/products", params={"q": case.q, "per_page": TOP})
        assert response.status_code == 200, f"{case.q!r}: {response.text}"
        products = response.json()["data"]
        hits = [_relevant(product, case, paths) for product in products]
        rank = hits.index(True) + 1 if True in hits else None
        outcomes[case] = Outcome(rank, [product["name"] for product in products])
    return outcomes


async def test_search_relevance_set_meets_the_measured_hit_rates(
    app: FastAPI, clean: None, client: httpx.AsyncClient
) -> None:
    async with service_state(app).sessionmaker.begin() as session:
        await load_catalogue(session, generate())
    cases = _cases()

    outcomes = await _outcomes(client, cases)

    top1 = sum(outcome.rank == 1 for outcome in outcomes.values()) / len(cases)
    top5 = sum(outcome.rank is not None for outcome in outcomes.values()) / len(cases)
    misses = {case.q: outcome for case, outcome in outcomes.items() if outcome.rank != 1}
    # Shown with ``-o log_cli=true --log-cli-level=INFO`` (the figures benchmarks/README.md gives).
    logger.info(
        "relevance: %d queries, top-1 %.1f%%, top-5 %.1f%%", len(cases), top1 * 100, top5 * 100
    )
    for q, outcome in misses.items():
        logger.info("miss %r: first relevant at %s; top %s", q, outcome.rank, outcome.top)
    assert len(cases) >= MIN_CASES, f"the relevance set shrank to {len(cases)} queries"
    failed_musts = [case.q for case in cases if case.must and outcomes[case].rank != 1]
    assert not failed_musts, f"these must put a relevant product first: {failed_musts}"
    assert top1 >= TOP1_FLOOR, f"top-1 hit rate {top1:.1%} < {TOP1_FLOOR:.0%}; misses {misses}"
    assert top5 >= TOP5_FLOOR, f"top-5 hit rate {top5:.1%} < {TOP5_FLOOR:.0%}; misses {misses}"
