"""The simulator's HTTP app: the card processor's ``/v1`` API with its faults, and ``/health``.

Errors of the ``/v1`` API are Stripe's ``{"error": {type, code, message, ...}}`` objects: 400 for
bad input, 402 for a card the processor refuses, 404 for an unknown id, 500 for a simulated
failure. Request bodies are JSON (Stripe takes forms; JSON keeps the clients simple). Amounts are
whole numbers of the currency's minor units, as every card processor's API has them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agora_cli.paysim import params
from agora_cli.paysim.admin import admin_routes
from agora_cli.paysim.processor import (
    ApiError,
    Outcome,
    create_charge,
    create_refund,
    create_token,
    get_charge,
)
from agora_cli.paysim.state import Simulator

logger = logging.getLogger("agora.paysim")
HEALTH_PATH = "/health"
HTTP_SERVER_ERROR = 500
REPLAYED_HEADER = "Idempotent-Replayed"
Handler = Callable[[Request], Awaitable[Response]]


def error_response(error: ApiError) -> JSONResponse:
    """The ``{"error": {...}}`` answer of a refusal."""
    return JSONResponse({"error": error.body}, status_code=error.status)


def outcome_response(outcome: Outcome) -> JSONResponse:
    """The answer of a charge or refund; a replay says so in ``Idempotent-Replayed``."""
    headers = {REPLAYED_HEADER: "true"} if outcome.replayed else {}
    return JSONResponse(outcome.body, status_code=outcome.status, headers=headers)


def with_faults(simulator: Simulator, handler: Handler) -> Handler:
    """``handler`` behind the simulator's latency, failures (before it) and timeouts (after it)."""

    async def faulty(request: Request) -> Response:
        faults = simulator.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_seconds)
        if simulator.dice.fails(faults):
            logger.info("simulated failure of %s %s", request.method, request.url.path)
            return error_response(
                ApiError(HTTP_SERVER_ERROR, "api_error", "simulated_failure", "Simulated failure.")
            )
        times_out = simulator.dice.times_out(faults)
        try:
            response = await handler(request)
        except ApiError as error:
            response = error_response(error)
        if times_out:  # processed and recorded: only the answer is late (module faults docstring)
            logger.info(
                "holding the answer to %s %s back %.1f s",
                request.method,
                request.url.path,
                faults.timeout_seconds,
            )
            await asyncio.sleep(faults.timeout_seconds)
        return response

    return faulty


def v1_routes(simulator: Simulator) -> list[Route]:
    """``/v1/tokens``, ``/v1/charges``, ``/v1/charges/{id}`` and ``/v1/refunds``."""
    ledger = simulator.ledger

    async def tokens(request: Request) -> Response:
        card = params.read_token_card(await params.json_body(request))
        token = create_token(ledger, card)
        logger.info("token %s for a %s card ending %s", token["id"], card.brand, card.last4)
        return JSONResponse(token)

    async def charges(request: Request) -> Response:
        key = params.idempotency_key(request)
        charge = params.read_charge(await params.json_body(request))
        outcome = create_charge(ledger, charge, key)
        logger.info(
            "charge of %d %s: %d%s",
            charge.amount,
            charge.currency,
            outcome.status,
            " (replayed)" if outcome.replayed else "",
        )
        return outcome_response(outcome)

    async def one_charge(request: Request) -> Response:
        return JSONResponse(get_charge(ledger, str(request.path_params["charge_id"])))

    async def refunds(request: Request) -> Response:
        key = params.idempotency_key(request)
        outcome = create_refund(ledger, params.read_refund(await params.json_body(request)), key)
        logger.info("refund: %d%s", outcome.status, " (replayed)" if outcome.replayed else "")
        return outcome_response(outcome)

    def route(path: str, handler: Handler, method: str) -> Route:
        return Route(path, with_faults(simulator, handler), methods=[method])

    return [
        route("/v1/tokens", tokens, "POST"),
        route("/v1/charges", charges, "POST"),
        route("/v1/charges/{charge_id}", one_charge, "GET"),
        route("/v1/refunds", refunds, "POST"),
    ]


def create_app(simulator: Simulator, *, admin: bool = True) -> Starlette:
    """The ASGI app: ``/health``, the ``/v1`` API and, when ``admin``, the ``/admin`` view and API.

    Args:
        simulator: The ledger and faults to serve.
        admin: Serve ``/admin`` (ledger, faults); False in the production profile.
    """

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [Route(HEALTH_PATH, health, methods=["GET"]), *v1_routes(simulator)]
    if admin:
        routes += admin_routes(simulator)
    return Starlette(routes=routes)
