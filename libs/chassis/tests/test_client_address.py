"""The client address: X-Forwarded-For believed only from trusted proxies, walked from the right."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from pydantic import ValidationError

from agora_chassis.client_address import TrustedProxies, client_ip, scope_client_ip
from agora_chassis.settings import ServiceSettings
from agora_testing.state import attach_test_state

GATEWAY = "127.0.0.1"
PROXIES = TrustedProxies(["127.0.0.1/32", "10.0.0.0/8", "::1"])


def scope_of(peer: str | None, *forwarded: str) -> dict[str, object]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
        "client": (peer, 51000) if peer else None,
    }


def test_client_ip_direct_peer_with_spoofed_header_is_keyed_by_the_peer() -> None:
    scope = scope_of("198.51.100.4", "203.0.113.9")

    assert scope_client_ip(scope, PROXIES) == "198.51.100.4"


def test_client_ip_without_trusted_proxies_ignores_the_header_even_from_loopback() -> None:
    assert scope_client_ip(scope_of(GATEWAY, "203.0.113.9")) == GATEWAY


def test_client_ip_trusted_proxy_header_names_the_client() -> None:
    assert scope_client_ip(scope_of(GATEWAY, "203.0.113.9"), PROXIES) == "203.0.113.9"


def test_client_ip_chain_skips_trusted_hops_from_the_right() -> None:
    # The client forged 6.6.6.6; the edge proxy appended the client, an inner proxy the edge.
    scope = scope_of(GATEWAY, "6.6.6.6, 203.0.113.9, 10.1.2.3")

    assert scope_client_ip(scope, PROXIES) == "203.0.113.9"


def test_client_ip_chain_across_repeated_header_fields() -> None:
    scope = scope_of(GATEWAY, "6.6.6.6", "2001:DB8:0::1, 10.0.0.2")

    assert scope_client_ip(scope, PROXIES) == "2001:db8::1"


def test_client_ip_every_hop_trusted_returns_the_furthest_proxy() -> None:
    assert scope_client_ip(scope_of(GATEWAY, "10.0.0.5, 10.0.0.6"), PROXIES) == "10.0.0.5"


def test_client_ip_trusted_peer_without_header_returns_the_peer() -> None:
    assert scope_client_ip(scope_of(GATEWAY), PROXIES) == GATEWAY


def test_client_ip_entry_that_is_no_address_stops_at_the_nearest_trusted_hop() -> None:
    scope = scope_of(GATEWAY, "203.0.113.9, '; DROP TABLE--, 10.0.0.2")

    assert scope_client_ip(scope, PROXIES) == "10.0.0.2"


def test_client_ip_ipv4_mapped_peer_is_matched_as_ipv4() -> None:
    assert scope_client_ip(scope_of("::ffff:10.0.0.2", "203.0.113.9"), PROXIES) == "203.0.113.9"


def test_client_ip_unparsable_peer_is_not_trusted() -> None:
    assert scope_client_ip(scope_of("testclient", "203.0.113.9"), PROXIES) == "testclient"


def test_client_ip_no_peer_returns_unknown() -> None:
    assert scope_client_ip(scope_of(None, "203.0.113.9"), PROXIES) == "unknown"


def test_client_ip_reads_the_apps_trusted_proxies() -> None:
    app = FastAPI()
    attach_test_state(app, trusted_proxies=PROXIES)
    trusting = Request({**scope_of(GATEWAY, "203.0.113.9"), "app": app})
    bare = Request({**scope_of(GATEWAY, "203.0.113.9"), "app": FastAPI()})

    assert (client_ip(trusting), client_ip(bare)) == ("203.0.113.9", GATEWAY)


def test_settings_trusted_proxies_parse_a_comma_separated_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGORA_TRUSTED_PROXIES", "127.0.0.1/32, ::1/128,10.0.0.0/8")

    settings = ServiceSettings()

    assert settings.trusted_proxies == ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]
    assert TrustedProxies(settings.trusted_proxies).trusts("::1")


def test_settings_trusted_proxies_default_trusts_nobody() -> None:
    assert not TrustedProxies(ServiceSettings().trusted_proxies)


def test_settings_trusted_proxies_refuse_what_is_no_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGORA_TRUSTED_PROXIES", "127.0.0.1, gateway")

    with pytest.raises(ValidationError, match="gateway"):
        ServiceSettings()


def test_the_remembered_walk_is_keyed_by_peer_and_header_and_kept_per_proxy_set() -> None:
    # The walk is remembered per (peer, raw X-Forwarded-For values); were the peer left out of
    # the key, the second peer below would get the first one's answer.
    proxies = TrustedProxies(["127.0.0.1/32", "10.0.0.0/8"])
    assert scope_client_ip(scope_of("10.0.0.1", "10.0.0.7"), proxies) == "10.0.0.7"
    assert scope_client_ip(scope_of("10.0.0.2", "10.0.0.7"), proxies) == "10.0.0.7"
    assert scope_client_ip(scope_of("10.0.0.1"), proxies) == "10.0.0.1"
    assert scope_client_ip(scope_of("10.0.0.2"), proxies) == "10.0.0.2", "another peer's answer"
    before = proxies.client_behind.cache_info()
    assert scope_client_ip(scope_of("10.0.0.1", "203.0.113.9"), proxies) == "203.0.113.9"
    assert scope_client_ip(scope_of("10.0.0.1", "203.0.113.9"), proxies) == "203.0.113.9"
    after = proxies.client_behind.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1), "not remembered"
    # The same header from the same peer, read by an app trusting fewer proxies: its own answer.
    narrow = TrustedProxies(["10.0.0.1/32"])
    assert scope_client_ip(scope_of("10.0.0.1", "198.51.100.4, 10.0.0.7"), narrow) == "10.0.0.7"
    assert scope_client_ip(scope_of("10.0.0.1", "198.51.100.4, 10.0.0.7"), proxies) == (
        "198.51.100.4"
    )


def test_repeated_header_fields_are_walked_as_one_list() -> None:
    scope = scope_of(GATEWAY, "203.0.113.9, 10.0.0.5", "10.0.0.6")
    assert scope_client_ip(scope, PROXIES) == "203.0.113.9"
