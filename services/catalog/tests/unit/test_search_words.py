"""Typo rules of search: words, allowances, the deletion neighbourhood and what a word matches."""

from __future__ import annotations

import uuid

import pytest

from agora_catalog.models import Category
from agora_catalog.repositories.search_terms import Candidate
from agora_catalog.schemas.search import WordMatch
from agora_catalog.services import search


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cast-Iron  skillet", ["cast", "iron", "skillet"]),
        ("VG-10 steel, steel", ["vg", "10", "steel"]),
        ("Crème brûlée!", ["crème", "brûlée"]),
        ("___", []),
    ],
)
def test_words_splits_on_anything_but_letters_and_digits(text: str, expected: list[str]) -> None:
    assert search.words(text) == expected


@pytest.mark.parametrize(
    ("word", "edits"), [("wok", 0), ("lamp", 0), ("gaimng", 1), ("arcmhair", 1), ("kettlebel", 2)]
)
def test_allowance_is_one_edit_from_five_letters_and_two_from_nine(word: str, edits: int) -> None:
    assert search.allowance(word) == edits


def test_deletions_reach_both_sides_of_a_transposition() -> None:
    assert search.deletions("gaimng", 1) & search.deletions("gaming", 1)


def _match(word: str, *terms: str, lexeme: str | None = None) -> WordMatch:
    candidates = [Candidate(term, lexeme) for term in terms]
    return search.match(word, word, candidates, search.Categories([]))


@pytest.mark.parametrize(
    ("word", "term"),
    [
        ("gaimng", "gaming"),  # adjacent letters swapped
        ("cosatal", "coastal"),
        ("arcmhair", "armchair"),
        ("dubmbell", "dumbbell"),
        ("hedphones", "headphones"),  # a letter missing
        ("blendr", "blender"),
        ("sneekers", "sneakers"),  # a letter replaced
        ("chronogarph", "chronograph"),  # two edits in a long word
    ],
)
def test_match_typo_within_allowance_is_a_typo_match(word: str, term: str) -> None:
    assert _match(word, term).typos == (term,)


@pytest.mark.parametrize(
    ("word", "term"),
    [("iorn", "iron"), ("gamnig", "mining"), ("xhornogarph", "chronograph")],
)
def test_match_beyond_allowance_matches_nothing(word: str, term: str) -> None:
    found = _match(word, term)
    assert (found.typos, found.completions) == ((), ())


def test_match_prefix_is_a_completion_from_three_letters() -> None:
    assert _match("head", "headphones").completions == ("headphones",)
    assert _match("he", "headphones").completions == ()


def test_match_typo_of_the_lexeme_counts() -> None:
    assert _match("knife", "knives", lexeme="knive").typos == ("knives",)


def test_plan_leaves_out_stop_words_and_matches_categories_with_descendants() -> None:
    lighting = Category(id=uuid.uuid4(), name="Lighting", parent_id=None)
    lamps = Category(id=uuid.uuid4(), name="Desk Lamps", parent_id=lighting.id)
    lexemes: dict[str, str | None] = {"the": None, "lightnig": "lightnig"}

    plan = search.plan(
        ["the", "lightnig"], [Candidate("lighting", "light")], lexemes, [lighting, lamps]
    )

    [word] = plan.words
    assert (word.word, word.typos) == ("lightnig", ("lighting",))
    assert set(word.typo_categories) == {lighting.id, lamps.id}
