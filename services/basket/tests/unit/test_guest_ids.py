"""Guest basket ids: signed, verified in constant time, refused when altered."""

from __future__ import annotations

import pytest

from agora_basket.services.errors import InvalidGuestId
from agora_basket.services.guest_ids import GuestIds

SECRET = b"unit-test-secret"


def test_guest_ids_issued_id_verifies_to_its_guest() -> None:
    ids = GuestIds(SECRET)
    signed = ids.issue()
    guest = ids.verify(signed)
    assert signed.startswith(guest + ".")
    assert len(guest) == 32


def test_guest_ids_each_issue_is_a_new_guest() -> None:
    ids = GuestIds(SECRET)
    assert ids.verify(ids.issue()) != ids.verify(ids.issue())


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: ("0" if s[0] != "0" else "1") + s[1:],  # another guest, same signature
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # altered signature
        lambda s: s.split(".")[0],  # no signature
        lambda s: s + "x" * 200,  # oversized
        lambda _s: "",
    ],
)
def test_guest_ids_tampered_id_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    ids = GuestIds(SECRET)
    with pytest.raises(InvalidGuestId):
        ids.verify(tamper(ids.issue()))


def test_guest_ids_signed_with_another_secret_refused() -> None:
    with pytest.raises(InvalidGuestId):
        GuestIds(b"another").verify(GuestIds(SECRET).issue())


def test_guest_ids_non_hex_guest_with_valid_signature_refused() -> None:
    ids = GuestIds(SECRET)
    forged = "z" * 32
    with pytest.raises(InvalidGuestId):
        ids.verify(f"{forged}.{ids._sign(forged)}")


def test_guest_ids_empty_secret_refused() -> None:
    with pytest.raises(ValueError):
        GuestIds(b"")
