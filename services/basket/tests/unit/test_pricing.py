"""Pricing a stored basket: flags, Decimal totals, stale and unavailable lines."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal

from agora_basket.schemas.basket import BasketRead
from agora_basket.schemas.lines import CatalogProduct, PriceNotice, StoredLine
from agora_basket.services.pricing import line_total, price_basket


def _line(quantity: int = 1, price: str = "10.00", name: str = "Mug") -> StoredLine:
    return StoredLine(
        product_id=str(uuid.uuid4()),
        quantity=quantity,
        unit_price=Decimal(price),
        currency="EUR",
        name=name,
        sku=f"SKU-{name}",
    )


def _product(
    line: StoredLine, *, price: str | None = None, available: int = 50, active: bool = True
) -> CatalogProduct:
    return CatalogProduct(
        product_id=line.product_id,
        sku=line.sku,
        name=line.name,
        unit_price=Decimal(price) if price else line.unit_price,
        currency=line.currency,
        available=available,
        active=active,
    )


def test_line_total_exact_decimal_rounded_half_up() -> None:
    assert line_total(Decimal("0.10"), 3) == Decimal("0.30")
    assert line_total(Decimal("19.995"), 1) == Decimal("20.00")


def test_price_basket_sums_decimal_totals_without_float_error() -> None:
    lines = [_line(3, "0.10", "A"), _line(1, "0.20", "B")]
    basket = price_basket(
        {line.product_id: line for line in lines},
        {line.product_id: _product(line) for line in lines},
    )
    assert basket.total == Decimal("0.50")
    assert basket.total_quantity == 4
    assert basket.currency == "EUR"
    assert not basket.stale


def test_price_basket_changed_price_flags_line_with_old_and_new() -> None:
    line = _line(2, "10.00")
    basket = price_basket({line.product_id: line}, {line.product_id: _product(line, price="12.50")})
    priced = basket.lines[0]
    assert priced.price_changed
    assert priced.previous_unit_price == Decimal("10.00")
    assert priced.unit_price == Decimal("12.50")
    assert priced.line_total == Decimal("25.00")


def test_price_basket_same_price_no_flag() -> None:
    line = _line(2, "10.00")
    priced = price_basket({line.product_id: line}, {line.product_id: _product(line)}).lines[0]
    assert not priced.price_changed
    assert priced.previous_unit_price is None


def test_price_basket_short_stock_flags_available_quantity() -> None:
    line = _line(5)
    priced = price_basket(
        {line.product_id: line}, {line.product_id: _product(line, available=3)}
    ).lines[0]
    assert priced.short_stock
    assert priced.available == 3


def test_price_basket_catalog_unknown_last_known_prices_marked_stale() -> None:
    line = _line(2, "7.25")
    basket = price_basket({line.product_id: line}, None)
    assert basket.stale
    assert basket.lines[0].stale
    assert basket.lines[0].unit_price == Decimal("7.25")
    assert basket.total == Decimal("14.50")
    assert basket.lines[0].available is None


def test_price_basket_catalog_unknown_shows_price_from_latest_event_flagged() -> None:
    line = dataclasses.replace(_line(2, "7.25"), known_price=Decimal("6.00"), known_currency="EUR")
    basket = price_basket({line.product_id: line}, None)
    priced = basket.lines[0]
    assert (priced.stale, priced.price_changed) == (True, True)
    assert (priced.unit_price, priced.previous_unit_price) == (Decimal("6.00"), Decimal("7.25"))
    assert basket.total == Decimal("12.00")


def test_price_basket_live_catalog_price_wins_over_event_price() -> None:
    line = dataclasses.replace(_line(1, "7.25"), known_price=Decimal("6.00"))
    basket = price_basket({line.product_id: line}, {line.product_id: _product(line, price="5.50")})
    assert basket.lines[0].unit_price == Decimal("5.50")
    assert basket.lines[0].previous_unit_price == Decimal("7.25")


def test_stored_line_reads_the_event_price_a_script_added() -> None:
    line = _line(1, "7.25")
    raw = json.loads(line.encode()) | {"k": "6.00", "kc": "EUR", "kt": "2026-12-07T10:00:00Z"}
    decoded = StoredLine.decode(line.product_id, json.dumps(raw))
    assert (decoded.known_price, decoded.known_currency) == (Decimal("6.00"), "EUR")


def test_price_notice_stamps_compare_in_time_order_across_offsets() -> None:
    early = dt.datetime(2026, 12, 7, 10, 0, 0, 999999, tzinfo=dt.UTC)
    later = dt.datetime(2026, 12, 7, 12, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    stamps = [PriceNotice.of("p", Decimal(1), "EUR", when).changed_at for when in (early, later)]
    assert stamps[0] < stamps[1]
    assert stamps[1] == "2026-12-07T10:00:01.000000+00:00"


def test_price_basket_withdrawn_or_missing_product_unavailable_and_not_totalled() -> None:
    kept, withdrawn, gone = _line(1, "5.00", "A"), _line(1, "9.00", "B"), _line(1, "3.00", "C")
    products = {
        kept.product_id: _product(kept),
        withdrawn.product_id: _product(withdrawn, active=False),
    }
    basket = price_basket({line.product_id: line for line in (kept, withdrawn, gone)}, products)
    assert [line.unavailable for line in basket.lines] == [False, True, True]
    assert basket.total == Decimal("5.00")
    assert basket.total_quantity == 1


def test_price_basket_empty_has_no_currency() -> None:
    basket = price_basket({}, {})
    assert basket.lines == []
    assert basket.total == Decimal("0.00")
    assert basket.currency is None


def test_basket_read_serialises_money_as_strings_never_floats() -> None:
    line = _line(3, "19.90")
    basket = price_basket({line.product_id: line}, {line.product_id: _product(line)})
    body = json.loads(BasketRead.model_validate(basket).model_dump_json())
    assert body["total"] == "59.70"
    assert body["lines"][0]["unit_price"] == "19.90"
    assert body["lines"][0]["line_total"] == "59.70"


def test_stored_line_round_trips_through_json() -> None:
    line = _line(4, "1.05")
    assert StoredLine.decode(line.product_id, line.encode()) == line
