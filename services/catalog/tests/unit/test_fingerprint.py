"""Entity tags of product representations."""

from __future__ import annotations

from agora_catalog.services.products import fingerprint


def test_fingerprint_is_quoted_hash_of_bytes() -> None:
    etag = fingerprint(b'{"name":"Mug"}')

    assert etag.startswith('"')
    assert etag.endswith('"')
    assert len(etag) == 34


def test_fingerprint_same_bytes_same_tag() -> None:
    assert fingerprint(b"body") == fingerprint(b"body")


def test_fingerprint_other_bytes_other_tag() -> None:
    assert fingerprint(b'{"price":"9.99"}') != fingerprint(b'{"price":"9.90"}')
