"""Running the simulator's app under uvicorn."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import uvicorn

from agora_cli.infra.ports import LOOPBACK
from agora_cli.paysim.app import create_app
from agora_cli.paysim.faults import FaultDice, faults_from_env, seed_from_env
from agora_cli.paysim.ledger import Ledger
from agora_cli.paysim.state import Simulator

logger = logging.getLogger("agora.paysim")
# A request held back by a simulated timeout must not hold `agora stop` back with it.
GRACEFUL_SHUTDOWN_SECONDS = 1


def build_simulator(data_dir: Path, env: Mapping[str, str]) -> Simulator:
    """The simulator on the ledger in ``data_dir``, with the faults and seed of ``env``.

    Raises:
        FaultSettingsError: An ``AGORA_PAYSIM_*`` value out of its range.
    """
    return Simulator(
        ledger=Ledger(data_dir),
        faults=faults_from_env(env),
        dice=FaultDice(seed_from_env(env)),
    )


async def serve(
    simulator: Simulator, port: int, host: str = LOOPBACK, *, admin: bool = True
) -> None:
    """Serve the simulator until SIGINT/SIGTERM (uvicorn installs the handlers).

    Args:
        simulator: Ledger and faults.
        port: The HTTP port.
        host: The address to bind.
        admin: Serve ``/admin``; False leaves ``/health`` and ``/v1`` (production profile).
    """
    logger.info(
        "payment simulator on %s:%d, ledger %s, faults %s",
        host,
        port,
        simulator.ledger.file,
        simulator.faults.as_json(),
    )
    config = uvicorn.Config(
        create_app(simulator, admin=admin),
        host=host,
        port=port,
        log_level="info",
        # No line per request (as the mail sink): the app logs what it did, never a body.
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    await uvicorn.Server(config).serve()
