"""The demo catalogue generator: deterministic, big, varied, and valid for the API's schemas."""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal

import pytest

from agora_catalog.schemas.category import CategoryCreate
from agora_catalog.schemas.product import ProductCreate
from agora_catalog.seed.data import parse_vocabulary, vocabulary
from agora_catalog.seed.generate import DEFAULT_COUNT, Catalogue, _lower, generate


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return generate()


def _depth(parents: dict[str, str | None], slug: str) -> int:
    parent = parents[slug]
    return 1 if parent is None else 1 + _depth(parents, parent)


def test_generate_same_seed_gives_the_same_catalogue(catalogue: Catalogue) -> None:
    assert generate() == catalogue


def test_generate_other_seed_gives_other_products(catalogue: Catalogue) -> None:
    other = generate(seed=7)

    assert other.categories == catalogue.categories
    assert [p.name for p in other.products] != [p.name for p in catalogue.products]


def test_generate_smaller_count_is_a_prefix_of_a_larger_one(catalogue: Catalogue) -> None:
    assert generate(100).products == catalogue.products[:100]


def test_generate_default_has_at_least_a_thousand_products(catalogue: Catalogue) -> None:
    assert DEFAULT_COUNT >= 1000
    assert len(catalogue.products) == DEFAULT_COUNT


def test_generate_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        generate(-1)


def test_generate_skus_and_slugs_are_unique(catalogue: Catalogue) -> None:
    skus = [p.sku for p in catalogue.products]
    slugs = [c.slug for c in catalogue.categories]

    assert len(set(skus)) == len(skus)
    assert len(set(slugs)) == len(slugs)


def test_generate_tree_has_three_levels_and_eight_roots(catalogue: Catalogue) -> None:
    parents = {c.slug: c.parent_slug for c in catalogue.categories}

    assert sum(parent is None for parent in parents.values()) == 8
    assert max(_depth(parents, slug) for slug in parents) == 3
    assert 40 <= len(parents) <= 70


def test_generate_parents_come_before_children(catalogue: Catalogue) -> None:
    seen: set[str] = set()
    for category in catalogue.categories:
        assert category.parent_slug is None or category.parent_slug in seen
        seen.add(category.slug)


def test_generate_every_product_is_in_a_leaf(catalogue: Catalogue) -> None:
    parents = {c.parent_slug for c in catalogue.categories}
    used = {p.category_slug for p in catalogue.products}

    assert used.isdisjoint(parents)
    assert used == {leaf.slug for leaf in vocabulary().leaves}


def test_generate_every_product_passes_the_create_schema(catalogue: Catalogue) -> None:
    for product in catalogue.products:
        data = {**product.fields(), "category_id": uuid.uuid4(), "on_hand": product.on_hand}

        created = ProductCreate.model_validate(data)

        assert created.name == product.name  # nothing stripped or changed
        assert created.price == product.price
        assert created.image_url == f"/images/products/{product.sku}.svg"


def test_generate_every_category_passes_the_create_schema(catalogue: Catalogue) -> None:
    for category in catalogue.categories:
        CategoryCreate.model_validate({"name": category.name, "slug": category.slug})


def test_generate_prices_have_two_decimals_and_stay_in_range(catalogue: Catalogue) -> None:
    leaves = {leaf.slug: leaf for leaf in vocabulary().leaves}
    for product in catalogue.products:
        leaf = leaves[product.category_slug]
        assert product.price.as_tuple().exponent == -2
        assert leaf.low <= product.price <= leaf.high
    assert len({p.price for p in catalogue.products}) > 200


def test_generate_is_varied(catalogue: Catalogue) -> None:
    products = catalogue.products
    brands = Counter(p.brand for p in products)
    inactive = sum(not p.active for p in products) / len(products)
    out_of_stock = sum(p.on_hand == 0 for p in products)

    assert len(brands) >= 30
    assert len({p.name for p in products}) > 0.9 * len(products)
    assert 0.005 < inactive < 0.03
    assert 0 < out_of_stock < 0.15 * len(products)
    assert all(0 <= p.on_hand <= 200 for p in products)
    assert all({"colour", "material"} <= p.attributes.keys() for p in products)


def test_generate_descriptions_name_the_product_and_its_material(catalogue: Catalogue) -> None:
    for product in catalogue.products[:50]:
        assert product.description.startswith(f"{product.name} by {product.brand}: ")
        assert _lower(str(product.attributes["material"])) in product.description
        assert product.description.count(". ") >= 2


def test_lower_keeps_acronyms() -> None:
    assert _lower("VG-10 Steel") == "VG-10 steel"
    assert _lower("Hard-Anodised Aluminium") == "hard-anodised aluminium"


def _vocabulary_document(**leaf: object) -> dict[str, object]:
    base_leaf = {
        "name": "Pans",
        "slug": "pans",
        "code": "PAN",
        "price": ["1.00", "2.00"],
        "nouns": ["Pan"],
        "materials": ["Iron"],
        "uses": ["cooking"],
    }
    return {
        "words": {"colours": ["Red"]},
        "top": [
            {
                "name": "Kitchen",
                "slug": "kitchen",
                "brands": ["Acme"],
                "sub": [{"name": "Cookware", "slug": "cookware", "leaf": [base_leaf | leaf]}],
            }
        ],
    }


def test_parse_vocabulary_reads_the_tree_and_defaults() -> None:
    parsed = parse_vocabulary(_vocabulary_document())

    assert [c.slug for c in parsed.categories] == ["kitchen", "cookware", "pans"]
    assert parsed.leaves[0].top_slug == "kitchen"
    assert parsed.leaves[0].low == Decimal("1.00")
    assert parsed.leaves[0].weight == 2
    assert parsed.word("colours") == ("Red",)


@pytest.mark.parametrize(
    ("leaf", "message"),
    [({"price": ["5.00", "2.00"]}, "bad price range"), ({"slug": "kitchen"}, "repeats a slug")],
)
def test_parse_vocabulary_refuses_inconsistent_data(leaf: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_vocabulary(_vocabulary_document(**leaf))
