"""SQL of typo-tolerant search: the vocabulary look-up, and the product conditions of a plan.

The vocabulary (``search_terms``) is written by database triggers (migration 0003), never here.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    case,
    false,
    func,
    literal,
    or_,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from agora_catalog.models import Product
from agora_catalog.schemas.search import SearchPlan, WordMatch

ENGLISH = "english"
SIMPLE = "simple"
RANK_NORMALISATION = 32
"""``ts_rank_cd`` normalisation ``rank / (rank + 1)``: a rank below 1, so one typo outweighs it."""

_LOOKUP = text(
    "SELECT term, lexeme, false AS typed FROM search_terms WHERE keys && CAST(:keys AS text[])"
    " UNION ALL"
    " SELECT word, (ts_lexize('english_stem', word))[1], true"
    " FROM unnest(CAST(:words AS text[])) AS word"
)


class Candidate(NamedTuple):
    """A vocabulary word that may match a search word, and its English lexeme."""

    term: str
    lexeme: str | None


class SearchTermRepository:
    """The search vocabulary, read in one transaction."""

    def __init__(self, session: AsyncSession) -> None:
        """Work in ``session``'s transaction."""
        self.session = session

    async def lookup(
        self, words: list[str], keys: list[str]
    ) -> tuple[list[Candidate], dict[str, str | None]]:
        """The vocabulary words sharing a key with ``keys``, and the English lexeme of ``words``.

        One statement: the GIN index on ``search_terms.keys`` serves the overlap (``&&``). A
        stop word's lexeme is ``None``.
        """
        rows = await self.session.execute(_LOOKUP, {"keys": keys, "words": words})
        candidates: list[Candidate] = []
        lexemes: dict[str, str | None] = {}
        for term, lexeme, typed in rows:
            if typed:
                lexemes[term] = lexeme
            else:
                candidates.append(Candidate(term, lexeme))
        return candidates, lexemes


def _stemmed(word: WordMatch) -> str:
    return word.word + (":*" if word.prefix else "")


def _expansions(word: WordMatch, *, typos: bool) -> list[str]:
    return [*word.completions, *word.typos] if typos else list(word.completions)


def _tsquery(config: str, operands: str) -> ColumnElement[Any]:
    # Operands are runs of letters and digits (``services.search.WORD``, ``search_words``):
    # nothing in them is tsquery syntax but the operators put between them here.
    return func.to_tsquery(config, literal(operands))


def _matches(word: WordMatch, *, typos: bool) -> ColumnElement[bool]:
    """The word (stemmed, maybe as a prefix), one of its expansions, or its categories match."""
    matches = [Product.search.bool_op("@@")(_tsquery(ENGLISH, _stemmed(word)))]
    if expansions := _expansions(word, typos=typos):
        matches.append(Product.words.bool_op("@@")(_tsquery(SIMPLE, " | ".join(expansions))))
    categories = [*word.categories, *(word.typo_categories if typos else ())]
    if categories:
        matches.append(Product.category_id.in_(categories))
    return or_(*matches)


def conditions(plan: SearchPlan) -> list[ColumnElement[bool]]:
    """Every word matches the product's name, brand, description or category (typos allowed).

    Each word is ``search @@ … OR words @@ … OR category_id IN (…)``: a bitmap OR of the GIN
    indexes on ``search`` and ``words`` and the index on ``category_id``, so no path scans all
    products. The category ids are values (found by the service), which the planner estimates.
    """
    if not plan.words:
        return [false()]
    return [_matches(word, typos=True) for word in plan.words]


def relevance(plan: SearchPlan) -> ColumnElement[Any]:
    """Higher is better: minus one per word matched only through a typo, plus the text rank.

    The rank is ``ts_rank_cd`` of all the words together (each with its expansions): products
    whose name holds the words close together come first, name above brand above description.
    """
    if not plan.words:
        return literal(0)
    groups = [
        "(" + " | ".join([_stemmed(word), *_expansions(word, typos=True)]) + ")"
        for word in plan.words
    ]
    rank = func.ts_rank_cd(
        Product.search, _tsquery(ENGLISH, " & ".join(groups)), RANK_NORMALISATION
    )
    key: ColumnElement[Any] = rank
    for word in plan.words:
        if word.typos or word.typo_categories:
            key = key - case((_matches(word, typos=False), 0), else_=1)
    return key
