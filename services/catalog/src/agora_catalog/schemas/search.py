"""What a search text expands to: its words, each with the vocabulary words it may stand for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WordMatch:
    """One word of a search and what it matches (every word of a search must match).

    Attributes:
        word: The word as typed (lower-cased).
        prefix: Whether the word also matches as a prefix (``head`` finds ``headphones``).
        completions: Vocabulary words that start with ``word`` or share its English lexeme
            (exact or prefix matches).
        typos: Vocabulary words within the word's edit allowance (ranked below the others).
        categories: Categories named with the word or a completion, and their descendants.
        typo_categories: Categories named with a typo match only, and their descendants.
    """

    word: str
    prefix: bool
    completions: tuple[str, ...] = ()
    typos: tuple[str, ...] = ()
    categories: tuple[uuid.UUID, ...] = ()
    typo_categories: tuple[uuid.UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """The words of a search text, stop words left out; no words means nothing matches."""

    words: tuple[WordMatch, ...]
