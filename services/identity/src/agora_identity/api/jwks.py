"""``/.well-known/jwks.json``: the public keys every service verifies access tokens with."""

from typing import Any

from fastapi import APIRouter, Request, Response

from agora_identity.api.deps import identity_state

router = APIRouter(tags=["keys"])

JWKS_MAX_AGE_SECONDS = 300


@router.get("/.well-known/jwks.json")
async def jwks(request: Request, response: Response) -> dict[str, list[dict[str, Any]]]:
    """The JSON Web Key Set (public halves of every current signing key)."""
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return identity_state(request).keys.jwks()
