"""Product and category DTOs: validation of what admins send."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from agora_catalog.schemas.category import CategoryUpdate
from agora_catalog.schemas.product import MAX_ATTRIBUTES, ProductCreate, ProductUpdate


def _create(**overrides: Any) -> ProductCreate:
    data = {
        "sku": "MUG-1",
        "name": "Mug",
        "brand": "Acme",
        "price": "9.99",
        "category_id": str(uuid.uuid4()),
    }
    return ProductCreate.model_validate(data | overrides)


def test_product_create_minimal_fills_defaults() -> None:
    product = _create()

    assert (product.currency, product.active, product.on_hand) == ("EUR", True, 0)
    assert (product.description, product.attributes, product.image_url) == ("", {}, None)


def test_product_create_name_is_stripped() -> None:
    assert _create(name="  Mug \t").name == "Mug"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sku", "-starts-with-dash"),
        ("sku", "A" * 65),
        ("price", "10000000000.00"),
        ("price", "0.001"),
        ("image_url", "ftp://example.com/mug.png"),
        ("image_url", "https://example.com/a b.png"),
        ("description", "bell\x07"),
        ("attributes", {"colour": 1.5}),
        ("attributes", {"": "empty key"}),
        ("attributes", {f"key{index}": index for index in range(MAX_ATTRIBUTES + 1)}),
    ],
)
def test_product_create_invalid_field_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as excinfo:
        _create(**{field: value})

    assert excinfo.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize("image_url", ["https://img.example.com/mug.png", "/img/mug.png"])
def test_product_create_absolute_or_local_image_url_is_accepted(image_url: str) -> None:
    assert _create(image_url=image_url).image_url == image_url


def test_product_update_changes_are_the_given_fields_without_version() -> None:
    update = ProductUpdate.model_validate({"price": "5.00", "image_url": None, "version": 3})

    assert update.changes() == {"price": Decimal("5.00"), "image_url": None}


@pytest.mark.parametrize("field", ["name", "brand", "price", "currency", "active", "category_id"])
def test_product_update_null_for_required_field_is_refused(field: str) -> None:
    with pytest.raises(ValidationError, match=f"{field} cannot be null"):
        ProductUpdate.model_validate({field: None})


def test_product_update_null_version_means_none_given() -> None:
    assert ProductUpdate.model_validate({"version": None}).version is None


def test_product_update_version_zero_is_refused() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ProductUpdate.model_validate({"version": 0})


def test_product_update_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ProductUpdate.model_validate({"sku": "NEW-SKU"})


def test_category_update_null_parent_moves_to_top_level() -> None:
    update = CategoryUpdate.model_validate({"parent_id": None})

    assert update.model_dump(exclude_unset=True) == {"parent_id": None}


@pytest.mark.parametrize("field", ["name", "slug"])
def test_category_update_null_for_required_field_is_refused(field: str) -> None:
    with pytest.raises(ValidationError, match=f"{field} cannot be null"):
        CategoryUpdate.model_validate({field: None})
