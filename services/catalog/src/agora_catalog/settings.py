"""Catalog's settings: the chassis base plus caching and the gRPC port."""

from __future__ import annotations

from agora_chassis.settings import ServiceSettings


class CatalogSettings(ServiceSettings):
    """Settings of the catalog service (environment variables ``AGORA_*``).

    Attributes:
        product_cache_seconds: How long a product read stays in Redis (writes invalidate it).
        list_cache_seconds: How long a product list or search result stays in Redis.
        local_cache_seconds: How long each process keeps what it read from Redis (0: never);
            another replica's write shows here at most this late.
        http_max_age_seconds: ``Cache-Control: max-age`` of public product reads.
        grpc_port: Port of the internal gRPC server; ``None`` serves no gRPC.
        grpc_host: Address the gRPC server listens on (``0.0.0.0`` in a container).
    """

    service_name: str = "catalog"
    product_cache_seconds: int = 300
    list_cache_seconds: int = 60
    local_cache_seconds: float = 1.0
    http_max_age_seconds: int = 30
    grpc_port: int | None = None
    grpc_host: str = "127.0.0.1"
