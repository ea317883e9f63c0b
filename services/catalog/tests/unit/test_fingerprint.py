"""Entity tags of product representations."""

from __future__ import annotations

import hashlib

from agora_catalog.services.products import ETAGS_REMEMBERED, fingerprint


def test_fingerprint_is_quoted_hash_of_bytes() -> None:
    etag = fingerprint(b'{"name":"Mug"}')

    assert etag.startswith('"')
    assert etag.endswith('"')
    assert len(etag) == 34


def test_fingerprint_same_bytes_same_tag() -> None:
    assert fingerprint(b"body") == fingerprint(b"body")


def test_fingerprint_other_bytes_other_tag() -> None:
    assert fingerprint(b'{"price":"9.99"}') != fingerprint(b'{"price":"9.90"}')


def test_fingerprint_is_the_sha256_of_the_bytes_also_when_remembered() -> None:
    body = b'{"sku":"MUG-1"}'
    expected = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'

    first, again = fingerprint(body), fingerprint(body)

    assert first == again == expected
    assert fingerprint.cache_info().hits >= 1


def test_fingerprint_remembers_a_bounded_number_of_bodies() -> None:
    for number in range(ETAGS_REMEMBERED + 10):
        fingerprint(f"body {number}".encode())

    assert fingerprint.cache_info().currsize == ETAGS_REMEMBERED
