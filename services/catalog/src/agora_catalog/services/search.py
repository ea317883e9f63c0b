"""Typo-tolerant search: split a search text into words and expand each through the vocabulary.

The rules are a search engine's (ADR 0015): a word of 5+ letters may be one edit away from what
it matches, a word of 9+ letters two edits, where an edit is an insertion, a deletion, a
substitution or two adjacent letters swapped (optimal string alignment distance). Shorter words
must match exactly or as a prefix. Every word must match something (name, brand, description or
category name); exact and prefix matches rank above typo matches.

Candidates come from the vocabulary's index (``SearchTermRepository.lookup``) by their deletion
neighbourhood; the exact distance is checked here with rapidfuzz's ``OSA``, against the word and
against its English lexeme (so ``knife`` finds ``knives``, lexeme ``knive``). Category names are
matched here too, so the product query gets their ids as plain values the planner can estimate.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from rapidfuzz.distance import OSA

from agora_catalog.models import Category
from agora_catalog.repositories.search_terms import Candidate
from agora_catalog.schemas.search import SearchPlan, WordMatch

WORD = re.compile(r"[^\W_]+")
"""A word: a run of letters and digits (the vocabulary's ``search_words`` splits the same way)."""
ONE_TYPO_LENGTH = 5
TWO_TYPOS_LENGTH = 9
MIN_PREFIX_LENGTH = 3
"""Shorter words match whole words only: ``pr`` would expand to half the vocabulary."""
MAX_WORDS = 10
MAX_EXPANSIONS = 30
"""Vocabulary words one search word may expand to, per kind (the closest or shortest first)."""


def words(text: str) -> list[str]:
    """The distinct words of ``text``, lower-cased, in order (at most ``MAX_WORDS``)."""
    return list(dict.fromkeys(WORD.findall(text.lower())))[:MAX_WORDS]


def allowance(word: str) -> int:
    """How many edits ``word`` may be away from what it matches."""
    if len(word) >= TWO_TYPOS_LENGTH:
        return 2
    return 1 if len(word) >= ONE_TYPO_LENGTH else 0


def deletions(word: str, depth: int) -> set[str]:
    """Every string left after deleting up to ``depth`` letters from ``word`` (itself included)."""
    found = {word}
    layer = {word}
    for _ in range(depth):
        layer = {part[:index] + part[index + 1 :] for part in layer for index in range(len(part))}
        found |= layer
    return found


def lookup_keys(found: Iterable[str]) -> list[str]:
    """The vocabulary keys that find every candidate of ``found`` (see ``models.search_term``)."""
    keys: set[str] = set()
    for word in found:
        keys |= deletions(word, allowance(word))
    return sorted(keys)


class Categories:
    """The category tree, searchable by the words of the names."""

    def __init__(self, categories: Sequence[Category]) -> None:
        """Index ``categories`` by name word and by parent."""
        self.named: dict[str, set[uuid.UUID]] = defaultdict(set)
        self.children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for category in categories:
            for word in WORD.findall(category.name.lower()):
                self.named[word].add(category.id)
            if category.parent_id is not None:
                self.children[category.parent_id].append(category.id)

    def matching(self, terms: Iterable[str]) -> tuple[uuid.UUID, ...]:
        """The categories named with one of ``terms``, and all their descendants (sorted)."""
        found: set[uuid.UUID] = set()
        pending = [category for term in terms for category in self.named.get(term, ())]
        while pending:
            category = pending.pop()
            if category not in found:
                found.add(category)
                pending += self.children[category]
        return tuple(sorted(found))


def _distance(word: str, candidate: Candidate) -> int:
    limit = allowance(word)
    distances = [OSA.distance(word, candidate.term, score_cutoff=limit)]
    if candidate.lexeme is not None:
        distances.append(OSA.distance(word, candidate.lexeme, score_cutoff=limit))
    return min(distances)


def match(
    word: str, lexeme: str, candidates: Iterable[Candidate], categories: Categories
) -> WordMatch:
    """What ``word`` (English lexeme ``lexeme``) matches among the vocabulary ``candidates``."""
    prefix = len(word) >= MIN_PREFIX_LENGTH
    completions: list[str] = []
    typos: list[tuple[int, str]] = []
    for candidate in candidates:
        term = candidate.term
        if term == word:
            continue  # the word itself is always searched
        if (prefix and term.startswith(word)) or candidate.lexeme == lexeme:
            completions.append(term)
        elif (distance := _distance(word, candidate)) <= allowance(word):
            typos.append((distance, term))
    completions = sorted(completions, key=lambda term: (len(term), term))[:MAX_EXPANSIONS]
    typo_terms = [term for _, term in sorted(typos)][:MAX_EXPANSIONS]
    exact = categories.matching([word, *completions])
    return WordMatch(
        word=word,
        prefix=prefix,
        completions=tuple(completions),
        typos=tuple(typo_terms),
        categories=exact,
        typo_categories=tuple(sorted(set(categories.matching(typo_terms)) - set(exact))),
    )


def plan(
    found: list[str],
    candidates: list[Candidate],
    lexemes: dict[str, str | None],
    categories: Sequence[Category],
) -> SearchPlan:
    """The search plan of the words ``found``: stop words (no lexeme) left out, each expanded."""
    tree = Categories(categories)
    return SearchPlan(
        words=tuple(
            match(word, lexeme, candidates, tree)
            for word in found
            if (lexeme := lexemes.get(word)) is not None
        )
    )
