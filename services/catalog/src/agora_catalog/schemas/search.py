"""What a search text expands to: its words, each with the vocabulary words it may stand for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WordMatch:
    """One word of a search and what it matches (every word of a search must match).

    Attributes:
        word: The word as typed (lower-cased).
        prefix: Whether the word also matches as a prefix (``head`` finds ``headphones``).
        completions: Vocabulary words that start with ``word`` (exact or prefix matches).
        typos: Vocabulary words within the word's edit allowance (ranked below the others).
    """

    word: str
    prefix: bool
    completions: tuple[str, ...] = ()
    typos: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """The words of a search text, stop words left out; no words means nothing matches."""

    words: tuple[WordMatch, ...]
