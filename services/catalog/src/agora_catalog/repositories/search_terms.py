"""SQL of typo-tolerant search: the vocabulary look-up, and the product conditions of a plan.

The vocabulary (``search_terms``) is written by database triggers (migration 0003), never here.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Uuid,
    any_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from agora_catalog.models import Category, Product
from agora_catalog.schemas.search import SearchPlan, WordMatch

ENGLISH = "english"
SIMPLE = "simple"
NOT_A_WORD = "[^[:alnum:]]+"
RANK_NORMALISATION = 32
"""``ts_rank_cd`` normalisation ``rank / (rank + 1)``: a rank below 1, so one typo outweighs it."""

_LOOKUP = text(
    "SELECT term, lexeme, false AS stop FROM search_terms WHERE keys && CAST(:keys AS text[])"
    " UNION ALL"
    " SELECT word, NULL, true FROM unnest(CAST(:words AS text[])) AS word"
    " WHERE cardinality(ts_lexize('english_stem', word)) = 0"
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

    async def lookup(self, words: list[str], keys: list[str]) -> tuple[list[Candidate], set[str]]:
        """The vocabulary words sharing a key with ``keys``, and which of ``words`` are stop words.

        One statement: the GIN index on ``search_terms.keys`` serves the overlap (``&&``).
        """
        rows = await self.session.execute(_LOOKUP, {"keys": keys, "words": words})
        candidates: list[Candidate] = []
        stop_words: set[str] = set()
        for term, lexeme, stop in rows:
            if stop:
                stop_words.add(term)
            else:
                candidates.append(Candidate(term, lexeme))
        return candidates, stop_words


def _stemmed(word: WordMatch) -> str:
    return word.word + (":*" if word.prefix else "")


def _expansions(word: WordMatch, *, typos: bool) -> list[str]:
    return [*word.completions, *word.typos] if typos else list(word.completions)


def _tsquery(config: str, operands: str) -> ColumnElement[Any]:
    # Operands are runs of letters and digits (``services.search.WORD``, ``search_words``):
    # nothing in them is tsquery syntax but the operators put between them here.
    return func.to_tsquery(config, literal(operands))


def _words_of(column: ColumnElement[str]) -> ColumnElement[Any]:
    """The unstemmed words of ``column``, as ``products.words`` holds those of name and brand."""
    return func.to_tsvector(SIMPLE, func.regexp_replace(func.lower(column), NOT_A_WORD, " ", "g"))


def _in_category(named: ColumnElement[bool], name: str) -> ColumnElement[bool]:
    """The product is in a category whose name matches (or under one): one index probe."""
    tree = select(Category.id).where(named).cte(name, recursive=True)
    tree = tree.union_all(select(Category.id).where(Category.parent_id == tree.c.id))
    # ``= ANY (array)``, not ``= ANY (subquery)``: the array is computed once, before the scan
    # (an InitPlan), and probes the index on ``category_id``; the cast makes it an array.
    ids = cast(select(func.array_agg(tree.c.id)).scalar_subquery(), ARRAY(Uuid))
    return Product.category_id == any_(ids)


def _matches(word: WordMatch, index: int, *, typos: bool) -> ColumnElement[bool]:
    """The word (stemmed, maybe as a prefix) or one of its expansions (as written) matches."""
    stemmed = _tsquery(ENGLISH, _stemmed(word))
    in_product = [Product.search.bool_op("@@")(stemmed)]
    in_category = [func.to_tsvector(ENGLISH, Category.name).bool_op("@@")(stemmed)]
    if expansions := _expansions(word, typos=typos):
        written = _tsquery(SIMPLE, " | ".join(expansions))
        in_product.append(Product.words.bool_op("@@")(written))
        in_category.append(_words_of(Category.name).bool_op("@@")(written))
    name = f"matched_{index}_{'typos' if typos else 'exact'}"
    return or_(*in_product, _in_category(or_(*in_category), name))


def conditions(plan: SearchPlan) -> list[ColumnElement[bool]]:
    """Every word matches the product's name, brand, description or category (typos allowed).

    Each word is ``search @@ … OR words @@ … OR category_id = ANY(…)``: a bitmap OR of the GIN
    indexes on ``search`` and ``words`` and the index on ``category_id``, so no path scans all
    products.
    """
    if not plan.words:
        return [false()]
    return [_matches(word, index, typos=True) for index, word in enumerate(plan.words)]


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
    for index, word in enumerate(plan.words):
        if word.typos:
            key = key - case((_matches(word, index, typos=False), 0), else_=1)
    return key
