"""Basket's settings: the chassis base plus Redis, the catalog target, limits and guest ids."""

from __future__ import annotations

from pydantic import Field, SecretStr

from agora_chassis.settings import ServiceSettings

THIRTY_DAYS_SECONDS = 30 * 24 * 60 * 60
MAX_QUANTITY = 99
MAX_LINES = 100
DEFAULT_GUEST_SECRET = "development-only-guest-basket-secret"  # noqa: S105  # nosec B105


class BasketSettings(ServiceSettings):
    """Settings of the basket service (environment variables ``AGORA_*``).

    Attributes:
        redis_url: Where baskets live (required: Redis is basket's only store).
        basket_key_prefix: Prefix of every Redis key basket writes (tests use their own).
        catalog_grpc_target: ``host:port`` of catalog's internal gRPC server.
        basket_ttl_seconds: A basket untouched this long expires (every write renews it).
        max_quantity: Most units of one product in a basket.
        max_lines: Most different products in a basket (at most 100: one catalog batch).
        guest_secret: Key of the HMAC that signs guest basket ids (from the environment only).
        guest_cookie_secure: Send the guest cookie over HTTPS only.
        grpc_port: Port of the internal gRPC ``BasketService``; ``None`` serves no gRPC.
        grpc_host: Address the gRPC server listens on (``0.0.0.0`` in a container).
    """

    service_name: str = "basket"
    redis_url: str | None = "redis://127.0.0.1:16380/3"
    basket_key_prefix: str = "basket"
    catalog_grpc_target: str = "127.0.0.1:9103"
    basket_ttl_seconds: int = Field(default=THIRTY_DAYS_SECONDS, ge=1)
    max_quantity: int = Field(default=MAX_QUANTITY, ge=1)
    max_lines: int = Field(default=MAX_LINES, ge=1, le=MAX_LINES)
    guest_secret: SecretStr = SecretStr(DEFAULT_GUEST_SECRET)
    guest_cookie_secure: bool = False
    grpc_port: int | None = None
    grpc_host: str = "127.0.0.1"

    def insecure_defaults(self) -> list[str]:
        """The chassis's development-only values, and basket's guest id secret and cookie.

        Returns:
            Setting names, empty when the configuration is fit for production.
        """
        problems = super().insecure_defaults()
        if self.guest_secret.get_secret_value() == DEFAULT_GUEST_SECRET:
            problems.append("AGORA_GUEST_SECRET (default)")
        if not self.guest_cookie_secure:
            problems.append("AGORA_GUEST_COOKIE_SECURE (off)")
        return problems
