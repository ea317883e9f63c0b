"""``/images/products/{sku}.svg``: product pictures, drawn by the service (public, cacheable).

The SVG is served with its own Content-Security-Policy: opened directly in a browser it is a
document, and a document that runs nothing, loads nothing and cannot be framed stays harmless
whatever text it shows.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from agora_catalog.api.deps import Images
from agora_catalog.schemas.product import Sku
from agora_catalog.services.products import fingerprint
from agora_chassis.openapi import not_modified, problem_responses

SVG = "image/svg+xml"
MAX_AGE_SECONDS = 24 * 60 * 60
# Presentation attributes only: no scripts, styles, fonts or fetches are needed, so none run.
SVG_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

router = APIRouter(prefix="/images", tags=["images"])


@router.get(
    "/products/{sku}.svg",
    response_class=Response,
    responses={
        status.HTTP_200_OK: {"content": {SVG: {"schema": {"type": "string"}}}},
        **not_modified(),
        **problem_responses(status.HTTP_404_NOT_FOUND, status.HTTP_503_SERVICE_UNAVAILABLE),
    },
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
