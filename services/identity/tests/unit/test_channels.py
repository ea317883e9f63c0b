"""The declared channels (the AsyncAPI document's source) are the events identity's code builds."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import agora_contracts
from agora_contracts.envelope import EventPayload
from agora_identity import channels

SOURCES = Path(channels.__file__).parent


def contract_payloads() -> list[type[EventPayload]]:
    """Every payload class ``agora_contracts`` defines."""
    for module in pkgutil.iter_modules(agora_contracts.__path__):
        importlib.import_module(f"agora_contracts.{module.name}")
    return EventPayload.__subclasses__()


def test_channels_publishes_exactly_the_payloads_identity_builds() -> None:
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for path in SOURCES.rglob("*.py")
        if path.name != "channels.py"
    )

    built = {payload for payload in contract_payloads() if f"{payload.__name__}(" in code}

    assert built == set(channels.CHANNELS.publishes)
