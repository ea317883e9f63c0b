"""search vocabulary for typo-tolerant search (ADR 0015)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 03:10:00.000000

``products.words`` is the unstemmed words of name and brand (generated, GIN-indexed): the words
a search word expands to are looked up there. ``search_terms`` holds every distinct word of product names, brands and category names with its
English lexeme and its lookup keys (prefixes and deletion neighbourhood, GIN-indexed). Row
triggers on ``products`` and ``categories`` add the words of every insert and rename, whoever
writes (services, the seed loader, plain SQL); existing rows are backfilled here. The trigram
index on product names goes: nothing queries it any more (``word_similarity() >= x`` could not
use it anyway).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORDS_DOCUMENT = (
    "to_tsvector('simple', regexp_replace(lower(name || ' ' || brand), '[^[:alnum:]]+', ' ', 'g'))"
)

# A word: a run of letters and digits, lower-cased (``services.search.words`` splits queries the
# same way).
SEARCH_WORDS = """
CREATE FUNCTION search_words(source text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT word
    FROM regexp_split_to_table(lower(source), '[^[:alnum:]]+') AS word
    WHERE word <> ''
$$
"""

# Every string obtained by deleting up to ``depth`` letters from ``word`` (``word`` included).
SEARCH_DELETES = """
CREATE FUNCTION search_deletes(word text, depth integer) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH RECURSIVE deleted(fragment, deletions) AS (
        SELECT word, 0
        UNION
        SELECT left(fragment, position - 1) || substr(fragment, position + 1), deletions + 1
        FROM deleted, generate_series(1, length(fragment)) AS position
        WHERE deletions < depth
    )
    SELECT DISTINCT fragment FROM deleted
$$
"""

# How many letters may be deleted from a vocabulary word of this length: one from 4+ letters
# (a 5-letter query word may be one edit away from it), two from 7+ (a 9-letter query word may
# be two edits away), none from very long words (their neighbourhoods grow quadratically).
SEARCH_DEPTH = """
CREATE FUNCTION search_depth(size integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN size > 32 THEN 0 WHEN size >= 7 THEN 2 WHEN size >= 4 THEN 1 ELSE 0 END
$$
"""

SEARCH_TERM_KEYS = """
CREATE FUNCTION search_term_keys(term text, lexeme text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(DISTINCT key) FROM (
        SELECT left(term, size) FROM generate_series(2, length(term)) AS size
        UNION ALL SELECT term
        UNION ALL SELECT search_deletes(term, search_depth(length(term)))
        UNION ALL SELECT search_deletes(lexeme, search_depth(length(lexeme)))
        WHERE lexeme IS NOT NULL
    ) AS keys(key)
$$
"""

SEARCH_TERMS_ADD = """
CREATE FUNCTION search_terms_add(source text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO search_terms (term, lexeme, keys)
    SELECT word, lexeme, search_term_keys(word, lexeme)
    FROM (
        SELECT word, (ts_lexize('english_stem', word))[1] AS lexeme
        FROM search_words(source) AS word
        WHERE NOT EXISTS (SELECT FROM search_terms WHERE term = word)
    ) AS new
    ON CONFLICT (term) DO NOTHING
$$
"""

TRIGGER_FUNCTIONS = {
    "products": "NEW.name || ' ' || NEW.brand",
    "categories": "NEW.name",
}


def _create_functions() -> None:
    for statement in (SEARCH_WORDS, SEARCH_DELETES, SEARCH_DEPTH, SEARCH_TERM_KEYS):
        op.execute(statement)
    op.execute(SEARCH_TERMS_ADD)
    for table, source in TRIGGER_FUNCTIONS.items():
        columns = "name, brand" if table == "products" else "name"
        op.execute(f"""
            CREATE FUNCTION {table}_search_terms() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM search_terms_add({source});
                RETURN NULL;
            END
            $$
        """)
        op.execute(f"""
            CREATE TRIGGER {table}_search_terms
            AFTER INSERT OR UPDATE OF {columns} ON {table}
            FOR EACH ROW EXECUTE FUNCTION {table}_search_terms()
        """)


def upgrade() -> None:
    """Create the vocabulary, its functions and triggers; backfill; drop the name trigram index."""
    op.create_table(
        "search_terms",
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("lexeme", sa.String(length=200), nullable=True),
        sa.Column("keys", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_search_terms")),
    )
    op.create_index(
        "ix_search_terms_keys", "search_terms", ["keys"], unique=False, postgresql_using="gin"
    )
    _create_functions()
    op.add_column(
        "products",
        sa.Column(
            "words",
            postgresql.TSVECTOR(),
            sa.Computed(WORDS_DOCUMENT, persisted=True),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_products_words", "products", ["words"], unique=False, postgresql_using="gin"
    )
    op.execute("SELECT search_terms_add(name || ' ' || brand) FROM products")
    op.execute("SELECT search_terms_add(name) FROM categories")
    op.drop_index(
        "ix_products_name_trgm",
        table_name="products",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )


def downgrade() -> None:
    """Restore the name trigram index; drop the triggers, functions, words and vocabulary."""
    op.drop_index("ix_products_words", table_name="products", postgresql_using="gin")
    op.drop_column("products", "words")
    op.create_index(
        "ix_products_name_trgm",
        "products",
        ["name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    for table in TRIGGER_FUNCTIONS:
        op.execute(f"DROP TRIGGER {table}_search_terms ON {table}")
        op.execute(f"DROP FUNCTION {table}_search_terms()")
    op.execute("DROP FUNCTION search_terms_add(text)")
    op.execute("DROP FUNCTION search_term_keys(text, text)")
    op.execute("DROP FUNCTION search_depth(integer)")
    op.execute("DROP FUNCTION search_deletes(text, integer)")
    op.execute("DROP FUNCTION search_words(text)")
    op.drop_index("ix_search_terms_keys", table_name="search_terms", postgresql_using="gin")
    op.drop_table("search_terms")
