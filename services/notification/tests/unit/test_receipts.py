"""A receipt's amounts are formatted as decimals with their currency, lines kept in order."""

from __future__ import annotations

from decimal import Decimal

from agora_contracts.ordering import OrderReceipt
from agora_notification.services.receipts import format_money, receipt_context

EXAMPLE = OrderReceipt.model_validate(
    {
        "buyer_id": "01936d3c-8f3a-7cc2-b6a1-2f0e4c5d6a7b",
        "lines": [
            {
                "product_id": "01936d3c-7b00-7a11-9c22-334455667788",
                "name": "Desk",
                "quantity": 1,
                "unit_price": "1500",
                "subtotal": "1500",
            },
            {
                "product_id": "01936d3c-7b00-7a11-9c22-334455667799",
                "name": "Pencil",
                "quantity": 4,
                "unit_price": "0.05",
                "subtotal": "0.20",
            },
        ],
        "total": "1500.20",
        "currency": "USD",
        "ship_to": {
            "name": "Ada Lovelace",
            "street": "12 Analytical Row",
            "postal_code": "10115",
            "city": "Berlin",
            "country": "DE",
        },
    }
)


def test_format_money_two_places_thousands_and_currency() -> None:
    assert format_money(Decimal("1234.5"), "EUR") == "1,234.50 EUR"
    assert format_money(Decimal("0.05"), "EUR") == "0.05 EUR"
    assert format_money(Decimal("9999999999.99"), "GBP") == "9,999,999,999.99 GBP"


def test_receipt_context_formats_every_amount_with_the_currency() -> None:
    context = receipt_context(EXAMPLE)

    assert context["lines"] == [
        {"name": "Desk", "quantity": 1, "unit_price": "1,500.00 USD", "subtotal": "1,500.00 USD"},
        {"name": "Pencil", "quantity": 4, "unit_price": "0.05 USD", "subtotal": "0.20 USD"},
    ]
    assert context["total"] == "1,500.20 USD"
    assert context["ship_to"]["city"] == "Berlin"
