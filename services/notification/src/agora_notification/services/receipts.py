"""What an order's e-mails show of its receipt: lines, amounts with their currency, address.

Amounts stay ``Decimal`` and are formatted as such (never through ``float``), with two places
and thousands separators: ``1,234.50 EUR``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agora_contracts.ordering import OrderReceipt


def format_money(amount: Decimal, currency: str) -> str:
    """``amount`` with two decimal places and the currency code, e.g. ``49.98 EUR``."""
    return f"{amount:,.2f} {currency}"


def receipt_context(receipt: OrderReceipt) -> dict[str, Any]:
    """The template variables of a receipt: ``lines``, ``total`` and ``ship_to``.

    Args:
        receipt: The receipt an order's final event carries.

    Returns:
        Each line's name, quantity, unit price and subtotal (amounts formatted), the total
        and the shipping address's fields.
    """
    currency = receipt.currency
    lines = [
        {
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": format_money(line.unit_price, currency),
            "subtotal": format_money(line.subtotal, currency),
        }
        for line in receipt.lines
    ]
    return {
        "lines": lines,
        "total": format_money(receipt.total, currency),
        "ship_to": receipt.ship_to.model_dump(),
    }
