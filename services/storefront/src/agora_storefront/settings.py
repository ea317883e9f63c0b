"""The storefront's settings: the chassis base plus where each called service answers."""

from __future__ import annotations

from pydantic import Field

from agora_chassis.settings import ServiceSettings

DEFAULT_PAGE_SIZE = 12
DEFAULT_CATALOG_CACHE_SECONDS = 2.0


class StorefrontSettings(ServiceSettings):
    """Settings of the storefront (environment variables ``AGORA_*``).

    The storefront keeps no data: every page is rendered from the other services' REST APIs,
    called on their own ports (not through the gateway) with the shopper's access token.

    Attributes:
        identity_url: Base URL of identity (log in, register, refresh, log out).
        catalog_url: Base URL of catalog (categories, products, search, stock).
        basket_url: Base URL of basket (the shopper's or guest's basket).
        ordering_url: Base URL of ordering (place, list, follow and cancel orders).
        payment_url: Base URL of payment (the operator's payments view).
        notification_url: Base URL of notification (its dead letters, for operators).
        card_token_url: Where the shopper's browser sends the card (the payment provider's
            tokenisation, public through the gateway): card numbers never reach Agora.
        mail_url: The mail sink's web view, linked from the operator pages (loopback only).
        cookie_secure: Send the session cookies over HTTPS only; ``None``: everywhere but in
            development.
        locale: How prices and dates are formatted (a CLDR locale, for Babel).
        page_size: Products per catalog page.
        catalog_cache_seconds: How long the category tree, a product list or a suggestion list
            is reused for every shopper (0: asked afresh for every page). A listing may show a
            price or stock figure this much late; the basket and the order price every line anew.
    """

    service_name: str = "storefront"
    identity_url: str = "http://127.0.0.1:8101"
    notification_url: str = "http://127.0.0.1:8102"
    catalog_url: str = "http://127.0.0.1:8103"
    basket_url: str = "http://127.0.0.1:8104"
    ordering_url: str = "http://127.0.0.1:8105"
    payment_url: str = "http://127.0.0.1:8106"
    card_token_url: str = "/v1/tokens"  # noqa: S105  # nosec B105 - a path, not a secret
    mail_url: str | None = None
    cookie_secure: bool | None = None
    locale: str = "en_US"
    page_size: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=100)
    catalog_cache_seconds: float = Field(default=DEFAULT_CATALOG_CACHE_SECONDS, ge=0)

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies carry ``Secure``: as set, or everywhere but in development."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.environment != "development"

    def insecure_defaults(self) -> list[str]:
        """The chassis's development-only values, and session cookies sent over plain HTTP.

        Returns:
            Setting names, empty when the configuration is fit for production.
        """
        # No database: the chassis's default database password is never used here.
        problems = [p for p in super().insecure_defaults() if "AGORA_DATABASE_URL" not in p]
        if not self.secure_cookies:
            problems.append("AGORA_COOKIE_SECURE (off)")
        return problems
