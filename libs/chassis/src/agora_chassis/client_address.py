"""The caller's address, looking through ``X-Forwarded-For`` only when a trusted proxy sent it.

Anyone can send ``X-Forwarded-For``; only a reverse proxy the operator runs (the gateway) writes
it truthfully. So the header is read only when the **peer** (the address the connection comes
from) is in the configured proxy networks (``AGORA_TRUSTED_PROXIES``, none by default): then the
header is walked from the right, past every address that is itself a trusted proxy, and the first
untrusted address is the client. Entries further left were written by the client and are never
believed. A caller reaching a service port directly is keyed by its peer address, whatever it
sends (ADR 0011).

The address keys the API budget, the login throttle and the audit log, so it is read on every
request: with no proxies configured it costs a tuple look-up; with proxies, deciding whether a
peer is one is cached per address, so an untrusted peer costs a dictionary look-up and no parsing,
and the walk behind a trusted one is remembered per peer and header value
(:attr:`TrustedProxies.client_behind`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from fastapi import Request
from starlette.types import Scope

from agora_chassis.state import ServiceStateError, service_state

UNKNOWN_CLIENT = "unknown"
FORWARDED_FOR = b"x-forwarded-for"
PEER_CACHE_SIZE = 4096

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(networks: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDRs (``10.0.0.0/8``) or single addresses (``127.0.0.1``) into networks.

    Args:
        networks: The texts; blanks are skipped.

    Returns:
        The networks, host bits allowed (``10.1.2.3/8`` is ``10.0.0.0/8``).

    Raises:
        ValueError: An entry is neither an address nor a network.
    """
    return tuple(
        ipaddress.ip_network(text.strip(), strict=False) for text in networks if text.strip()
    )


class TrustedProxies:
    """The reverse proxies whose ``X-Forwarded-For`` is believed.

    Args:
        networks: CIDRs or addresses of the proxies; empty trusts nobody.
    """

    def __init__(self, networks: Iterable[str] = ()) -> None:
        self.networks = parse_networks(networks)
        # Per instance, so two apps with different proxies never share answers.
        self._trusted = lru_cache(maxsize=PEER_CACHE_SIZE)(self._in_networks)
        # Behind the gateway every request walks X-Forwarded-For, and nearly all carry one of a
        # few values (one per client address). The answer depends on nothing but the peer, the
        # header's raw values and these networks, so it is remembered per (peer, values): a
        # repeat costs a tuple and a dict look-up instead of decoding, splitting and checking
        # each entry. Bounded, so a client sending a new header each time only churns the cache.
        self.client_behind = lru_cache(maxsize=PEER_CACHE_SIZE)(self._walk)

    def __bool__(self) -> bool:
        """Whether any proxy is trusted at all."""
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        """Tell whether ``address`` (an IP address as text) belongs to a trusted proxy."""
        return bool(self.networks) and self._trusted(address)

    def _walk(self, peer: str, forwarded: tuple[bytes, ...]) -> str:
        """The client behind trusted ``peer``, given the raw ``X-Forwarded-For`` values."""
        nearest = peer
        for entry in reversed(_forwarded_for(forwarded)):
            address = _canonical_ip(entry)
            if address is None:
                return nearest
            if not self.trusts(address):
                return address
            nearest = address
        return nearest

    def _in_networks(self, address: str) -> bool:
        ip = _ip(address)
        if ip is None:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
        return any(ip in network for network in self.networks)


NO_PROXIES = TrustedProxies()
"""Trust nobody: every caller is its peer address."""


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@lru_cache(maxsize=PEER_CACHE_SIZE)
def _canonical_ip(candidate: str) -> str | None:
    """``candidate`` as ``ipaddress`` writes it, None if it is no IP address (parsed once)."""
    ip = _ip(candidate)
    return None if ip is None else str(ip)


def _forwarded_for(values: tuple[bytes, ...]) -> list[str]:
    """Every ``X-Forwarded-For`` entry, left to right, across repeated header fields."""
    return [part.strip() for value in values for part in value.decode("latin-1").split(",")]


def scope_client_ip(scope: Scope, proxies: TrustedProxies = NO_PROXIES) -> str:
    """Return the caller's IP address, read from an ASGI scope (for middlewares).

    Args:
        scope: The ASGI scope of the request.
        proxies: The proxies whose ``X-Forwarded-For`` is believed.

    Returns:
        The peer address when the peer is no trusted proxy (or there is no header); else the
        rightmost header entry that is no trusted proxy; the leftmost entry when all are trusted
        proxies; the nearest trusted address when an entry is not an IP address (a proxy did not
        append as it should). ``"unknown"`` when even the peer is unknown.
    """
    client = scope.get("client")
    if not client:
        return UNKNOWN_CLIENT
    peer = str(client[0])
    if not proxies.trusts(peer):
        return peer
    forwarded = tuple(value for name, value in scope["headers"] if name == FORWARDED_FOR)
    return str(proxies.client_behind(peer, forwarded))


def client_ip(request: Request) -> str:
    """Return the caller's IP address, believing only the app's trusted proxies.

    The proxies are the app's ``ServiceState.trusted_proxies`` (a :class:`TrustedProxies`, set by
    ``create_service_app`` from ``AGORA_TRUSTED_PROXIES``); an app without a state (not built by
    ``create_service_app``) trusts nobody.

    Args:
        request: The current request.

    Returns:
        See :func:`scope_client_ip`.
    """
    try:
        proxies = service_state(request).trusted_proxies
    except ServiceStateError:
        proxies = NO_PROXIES  # the safe default: the peer is the client
    return scope_client_ip(request.scope, proxies)
