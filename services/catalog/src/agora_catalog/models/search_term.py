"""The search vocabulary: every distinct word of product names, brands and category names.

Typo-tolerant search (ADR 0015) looks query words up here before it searches products. Database
triggers (migration 0003) add the words of every inserted or renamed product and category, so
every write path keeps it current: the services, ``agora seed``'s bulk inserts and plain SQL.
Words are only added, never removed: a word nothing uses any more expands a query to a term that
matches no product, which costs a little and changes no result.

``keys`` holds, for the GIN index, every string a query word may share with the word: its
prefixes (search as you type) and its deletion neighbourhood (SymSpell: the word and its lexeme
with up to one letter deleted from words of 4+ letters, up to two from words of 7+). Two words
within *k* edits (insertion, deletion, substitution or adjacent transposition) always share a
string obtained by deleting at most *k* letters from each, so the index finds every candidate;
the exact edit distance is checked afterwards (``services.search``).
"""

from __future__ import annotations

from sqlalchemy import Index, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agora_catalog.models.base import Base

TERM_LENGTH = 200


class SearchTerm(Base):
    """One word of the vocabulary, its English lexeme (``None`` for a stop word) and its keys."""

    __tablename__ = "search_terms"
    __table_args__ = (Index("ix_search_terms_keys", "keys", postgresql_using="gin"),)

    term: Mapped[str] = mapped_column(String(TERM_LENGTH), primary_key=True)
    lexeme: Mapped[str | None] = mapped_column(String(TERM_LENGTH))
    keys: Mapped[list[str]] = mapped_column(ARRAY(Text))
