"""What one running simulator holds: its ledger, its current faults and the dice applying them."""

from __future__ import annotations

from dataclasses import dataclass, field

from agora_cli.paysim.faults import FaultDice, Faults
from agora_cli.paysim.ledger import Ledger


@dataclass
class Simulator:
    """The state one app serves; ``faults`` is replaced as a whole by ``PUT /admin/faults``."""

    ledger: Ledger
    faults: Faults = field(default_factory=Faults)
    dice: FaultDice = field(default_factory=FaultDice)
