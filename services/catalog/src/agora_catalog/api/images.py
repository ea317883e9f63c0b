"""``/images/products/{sku}.svg``: product pictures, drawn by the service (public, cacheable).

The SVG is served with its own Content-Security-Policy: opened directly in a browser it is a
document, and a document that runs nothing, loads nothing and cannot be framed stays harmless
whatever text it shows.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from agora_catalog.api.deps import Images
from agora_catalog.schemas.product import Sku
from agora_catalog.services.products import fingerprint

SVG = "image/svg+xml"
MAX_AGE_SECONDS = 24 * 60 * 60
# Presentation attributes only: no scripts, styles, fonts or fetches are needed, so none run.
SVG_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}

router = APIRouter(prefix="/images", tags=["images"])


@router.get(
    "/products/{sku}.svg",
    response_class=Response,
    responses={200: {"content": {SVG: {}}}, 304: {}, 404: PROBLEM, 422: PROBLEM},
)
async def product_image(request: Request, sku: Sku, images: Images) -> Response:
    """The picture of an active product (``ETag``; ``If-None-Match`` gives 304)."""
    body = await images.product_image(sku)
    etag = fingerprint(body)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}",
        "Content-Security-Policy": SVG_CSP,
    }
    if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content=body, media_type=SVG, headers=headers)
