"""The settings base every service's ``Settings`` class extends.

All variables carry the ``AGORA_`` prefix and come from the environment or a ``.env`` file. Each
service process gets its own environment, so common names (``AGORA_DATABASE_URL``) are not shared.
The production profile refuses to start while any secret still has its development default.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agora_chassis.breaker import DEFAULT_COOL_DOWN_SECONDS, DEFAULT_FAILURE_THRESHOLD
from agora_chassis.call_policy import DEFAULT_DEADLINE_SECONDS, DEFAULT_MAX_ATTEMPTS
from agora_chassis.client_address import parse_networks
from agora_chassis.errors import DEPENDENCY_RETRY_AFTER_SECONDS

ONE_MEBIBYTE = 1024 * 1024
DEFAULT_RETRY_BASE_SECONDS = 30.0
"""A consumer's first wait; growing fourfold, 3 tries span at least two minutes (ADR 0008)."""
DEFAULT_RELAY_MAX_IN_FLIGHT = 64
"""The relay's publishes awaiting confirmation at once, one per aggregate (ADR 0014)."""
DEFAULT_IDEMPOTENCY_TTL_HOURS = 24
DEFAULT_IDEMPOTENCY_PRUNE_SECONDS = 3600.0
"""How long a stored answer to an ``Idempotency-Key`` is replayed (ADR 0021)."""
DEFAULT_DATABASE_PASSWORD = "agora"  # noqa: S105 - the development default, refused in production

Environment = Literal["development", "test", "production"]
LOOPBACK_HOSTNAMES = frozenset({"localhost"})


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() in LOOPBACK_HOSTNAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_secure_url(url: str) -> bool:
    """Tell whether trusted material may be fetched from ``url``: https, or http on loopback.

    Plain http to loopback never leaves the machine (a sidecar, or identity fetching its own keys).

    Args:
        url: The URL.

    Returns:
        ``True`` for ``https://`` anywhere and ``http://`` to a loopback host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme == "https" or (scheme == "http" and _is_loopback(parts.hostname))


class InsecureSettingsError(ValueError):
    """Raised when the production profile still carries a development default."""


class ServiceSettings(BaseSettings):
    """Settings shared by every Agora service.

    Attributes:
        service_name: Name used in logs, metrics, traces and health answers.
        environment: ``development``, ``test`` or ``production``.
        debug: Turns on the interactive API docs (``/docs``).
        database_url: SQLAlchemy async URL of the service's own database.
        redis_url: Redis URL for rate limits and caches; ``None`` keeps them in memory.
        broker_url: Message broker URL (``nats://``, ``amqp://``, ``kafka://``); optional for now.
        outbox_max_age_seconds: Readiness says ``degraded`` when an event waits longer than
            this in the outbox.
        consumer_retry_base_seconds: A consumer's wait after its first failed try; later
            waits grow fourfold (3 tries: about 30 s, then 120 s, jittered).
        relay_max_in_flight: Most outbox publishes the relay keeps awaiting their broker
            confirmation at once, each of a different aggregate (1: one by one).
        jwks_url: Where the identity service publishes its public signing keys.
        jwt_issuer: The ``iss`` every accepted token must carry.
        jwt_audience: The ``aud`` every accepted token must carry.
        cors_origins: Origins allowed to call the API from a browser (never ``*``).
        max_body_bytes: Largest request body accepted.
        request_timeout_seconds: Time budget of one request before it gets a 504.
        rate_limit: Per-client limit for the whole API, per replica (``limits`` syntax).
        trusted_proxies: CIDRs of the reverse proxies whose ``X-Forwarded-For`` is believed
            (comma-separated in the environment); empty, the default, trusts nobody.
        dependency_retry_after_seconds: ``Retry-After`` of a 503 answered because a dependency
            (database, Redis, a called service) is unreachable.
        log_dir: Where ``app.log`` and ``error.log`` rotate; ``None`` logs to the console only.
        log_level: Root log level.
        access_log: Log a line per request (off: the gateway's access log has every request).
        otel_exporter: ``none`` (default), ``console`` or ``otlp``.
        otel_endpoint: OTLP/HTTP endpoint when ``otel_exporter`` is ``otlp``.
        version: Release version reported by ``/health/ready``.
        build_time: Build timestamp reported by ``/health/ready``.
        commit: Commit hash reported by ``/health/ready``.
        service_client_id: This service's client id at identity, for calling other services
            over gRPC (``None``: it calls none).
        service_client_secret: That client's secret (from the environment only).
        service_token_url: Identity's client-credentials endpoint.
        call_deadline_seconds: Default time budget of one call to another service, every
            retry included (``agora_chassis.service_client``).
        call_max_attempts: Most attempts of one such call (1: no retry).
        breaker_failure_threshold: Consecutive failed calls that open a target's breaker.
        breaker_cool_down_seconds: How long an open breaker refuses calls before one trial.
        idempotency_ttl_hours: How long the answer to a request with an ``Idempotency-Key``
            is kept and replayed; an older record is ignored and overwritten (ADR 0021).
        idempotency_prune_seconds: How often each replica deletes the expired ones.
    """

    model_config = SettingsConfigDict(
        env_prefix="AGORA_", env_file=".env", extra="ignore", env_ignore_empty=True
    )

    service_name: str = "agora"
    environment: Environment = "development"
    debug: bool = False
    database_url: str = (
        f"postgresql+asyncpg://agora:{DEFAULT_DATABASE_PASSWORD}@127.0.0.1:15432/agora"
    )
    redis_url: str | None = None
    broker_url: str | None = None
    outbox_max_age_seconds: float = Field(default=60.0, gt=0)
    consumer_retry_base_seconds: float = Field(default=DEFAULT_RETRY_BASE_SECONDS, gt=0)
    relay_max_in_flight: int = Field(default=DEFAULT_RELAY_MAX_IN_FLIGHT, ge=1)
    jwks_url: str = "http://127.0.0.1:8080/.well-known/jwks.json"
    jwt_issuer: str = "agora-identity"
    jwt_audience: str = "agora"
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = ONE_MEBIBYTE
    request_timeout_seconds: float = 30.0
    rate_limit: str = "300/minute"
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dependency_retry_after_seconds: int = Field(default=DEPENDENCY_RETRY_AFTER_SECONDS, ge=1)
    log_dir: Path | None = None
    log_level: str = "INFO"
    access_log: bool = False
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str | None = None
    version: str = "0.1.0"
    build_time: str = "unknown"
    commit: str = "unknown"
    service_client_id: str | None = None
    service_client_secret: SecretStr | None = None
    service_token_url: str = (
        "http://127.0.0.1:8080/api/v1/auth/service-token"  # noqa: S105  # nosec B105 - a URL
    )
    call_deadline_seconds: float = Field(default=DEFAULT_DEADLINE_SECONDS, gt=0)
    call_max_attempts: int = Field(default=DEFAULT_MAX_ATTEMPTS, ge=1)
    breaker_failure_threshold: int = Field(default=DEFAULT_FAILURE_THRESHOLD, ge=1)
    breaker_cool_down_seconds: float = Field(default=DEFAULT_COOL_DOWN_SECONDS, gt=0)
    idempotency_ttl_hours: float = Field(default=DEFAULT_IDEMPOTENCY_TTL_HOURS, gt=0)
    idempotency_prune_seconds: float = Field(default=DEFAULT_IDEMPOTENCY_PRUNE_SECONDS, gt=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        """Accept ``"10.0.0.0/8, 127.0.0.1"`` from the environment; refuse what is no network."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            parse_networks(str(part) for part in value)  # a ValueError becomes a settings error
        return value

    def insecure_defaults(self) -> list[str]:
        """Name every setting that still has a development-only value.

        Services extend this with their own secrets.

        Returns:
            Setting names, empty when the configuration is fit for production.
        """
        problems = []
        if f":{DEFAULT_DATABASE_PASSWORD}@" in self.database_url:
            problems.append("AGORA_DATABASE_URL (default password)")
        if "*" in self.cors_origins:
            problems.append("AGORA_CORS_ORIGINS (wildcard)")
        if self.debug:
            problems.append("AGORA_DEBUG (on)")
        if self.service_client_secret is not None and not is_secure_url(self.service_token_url):
            problems.append("AGORA_SERVICE_TOKEN_URL (client secret sent without TLS)")
        if not is_secure_url(self.jwks_url):
            # Whoever can alter the keys in transit can sign any token the services accept.
            problems.append("AGORA_JWKS_URL (not https, and not loopback)")
        return problems

    @model_validator(mode="after")
    def _refuse_defaults_in_production(self) -> Self:
        if self.environment == "production" and (problems := self.insecure_defaults()):
            raise InsecureSettingsError(
                "refusing to start in production with development defaults: " + ", ".join(problems)
            )
        return self
