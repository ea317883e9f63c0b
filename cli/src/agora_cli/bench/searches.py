"""Search texts for ``agora bench catalog``: a few to read warm, and thousands that miss the cache.

The catalog caches a search by its exact query (ADR 0005), so a search is uncached only the first
time its text is asked for. :func:`uncached` builds as many distinct texts as a run can send,
from the demo catalogue's vocabulary: a noun alone, with an adjective, with a colour, and each
noun word of five letters or more with one typo (a letter dropped, doubled, or two adjacent
letters swapped, as in ``hedphones``, ``Gaimng``, ``Cosatal``), in an order that mixes the kinds.
"""

from __future__ import annotations

from itertools import cycle, product

WARM = (
    "cast iron skillet",
    "chef knife",
    "espresso machine",
    "wireless mouse",
    "bluetooth speaker",
    "oak dining table",
    "linen cushion",
    "yoga mat",
    "garden hose",
    "mechanical keyboard",
    "stainles steel wok",
    "espreso grinder",
    "wireles keybord",
    "dinning chair",
    "velvet armchiar",
    "bamboo spatual",
)
# The typo queries issue 13 names: a letter dropped, and adjacent letters swapped.
NAMED_TYPOS = ("hedphones", "Gaimng", "Cosatal", "Arcmhair", "Dubmbell")
NOUNS = (
    "skillet", "wok", "saucepan", "stockpot", "casserole", "spatula", "ladle", "whisk",
    "cleaver", "blender", "grinder", "kettle", "toaster", "headphones", "earbuds", "speaker",
    "soundbar", "keyboard", "mouse", "trackball", "monitor", "webcam", "armchair", "stool",
    "table", "bookcase", "lamp", "cushion", "blanket", "dumbbell", "kettlebell", "yoga mat",
    "backpack", "tent", "lantern", "hose", "planter", "gaming chair", "coffee maker",
)  # fmt: skip
ADJECTIVES = (
    "classic", "premium", "compact", "professional", "modern", "vintage", "smart", "rugged",
    "slim", "minimalist", "coastal", "nordic", "wireless", "gaming", "portable", "ergonomic",
)  # fmt: skip
COLOURS = ("black", "white", "graphite", "navy", "sand", "burgundy", "cream", "slate grey")
TYPO_MIN_LETTERS = 5


def typos(word: str) -> list[str]:
    """Every one-edit typo of ``word`` (5+ letters): adjacent letters swapped, one dropped, one
    doubled; none that equals the word."""
    if len(word) < TYPO_MIN_LETTERS or not word.isalpha():
        return []
    found = [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)]
    found += [word[:i] + word[i + 1 :] for i in range(1, len(word))]
    found += [word[: i + 1] + word[i] + word[i + 1 :] for i in range(1, len(word))]
    return list(dict.fromkeys(typo for typo in found if typo != word))


def _typo_queries() -> list[str]:
    queries = []
    for noun in NOUNS:
        *head, last = noun.split(" ")
        queries += [" ".join([*head, typo]) for typo in typos(last)]
    return queries


def uncached(count: int) -> list[str]:
    """``count`` distinct search texts (fewer if the vocabulary runs out), the named typos first.

    The kinds (typos, adjective + noun, colour + noun, adjective + colour + noun) take turns, so
    any slice of the list has some of each.
    """
    kinds = [
        _typo_queries(),
        [f"{adjective} {noun}" for adjective, noun in product(ADJECTIVES, NOUNS)],
        [f"{colour} {noun}" for colour, noun in product(COLOURS, NOUNS)],
        [f"{a} {c} {n}" for a, c, n in product(ADJECTIVES, COLOURS, NOUNS)],
    ]
    iterators = cycle(iter(kind) for kind in kinds)
    mixed = dict.fromkeys(NAMED_TYPOS)  # insertion-ordered, without repeats
    exhausted = 0
    while len(mixed) < count and exhausted < len(kinds):
        found = next(next(iterators), None)  # one from the next kind
        exhausted = exhausted + 1 if found is None else 0
        if found is not None and found not in WARM:  # a warm text is cached by then
            mixed[found] = None
    return list(mixed)[:count]
