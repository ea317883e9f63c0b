"""Dependency audit for the gates: pip-audit over the locked dependencies.

The lock is exported to a requirements file so the audit sees exactly what ``uv.lock`` pins, not
whatever happens to be installed. Ignored vulnerabilities live in ``.ci/pip-audit-ignore.toml``,
each with a reason (and optionally an ``until`` date after which the ignore stops working)::

    [[ignore]]
    id = "GHSA-xxxx-xxxx-xxxx"
    reason = "only reachable through X, which Agora does not use"
    until = 2027-03-01

When PyPI's vulnerability service cannot be reached the audit fails, unless a reason to skip it
is recorded: ``unreachable_reason`` in the ignore file (committed, so it is reviewed like code),
or ``AGORA_SKIP_PIP_AUDIT``. The reason is printed. Whenever the service answers, the audit runs.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import shutil
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

IGNORE_FILE = Path(".ci/pip-audit-ignore.toml")
SKIP_ENV = "AGORA_SKIP_PIP_AUDIT"
# pip-audit's default service asks PyPI's JSON API for one release at a time; probing that same
# endpoint tells "service down" apart from "a dependency is vulnerable".
PROBE_URL = "https://pypi.org/pypi/pip-audit/{version}/json"
PROBE_TIMEOUT_SECONDS = 15.0
HTTP_OK = 200


@dataclass(frozen=True)
class IgnoredVulnerability:
    """One vulnerability the audit deliberately lets through."""

    id: str
    reason: str
    until: dt.date | None = None


def load_ignores(path: Path, today: dt.date) -> list[IgnoredVulnerability]:
    """Read the ignore list, refusing entries without a reason or past their ``until`` date.

    Args:
        path: The TOML file; a missing file means nothing is ignored.
        today: The date ``until`` is compared with.

    Returns:
        The entries still in force.

    Raises:
        ValueError: If an entry lacks an id or a reason, or has expired.
    """
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("ignore", [])
    ignores = []
    for entry in entries:
        vuln_id, reason = str(entry.get("id", "")).strip(), str(entry.get("reason", "")).strip()
        if not vuln_id or not reason:
            raise ValueError(f"{path}: every [[ignore]] needs an id and a reason: {entry!r}")
        until = entry.get("until")
        if until is not None and until < today:
            raise ValueError(f"{path}: the ignore of {vuln_id} expired on {until}; review it")
        ignores.append(IgnoredVulnerability(vuln_id, reason, until))
    return ignores


def unreachable_reason(path: Path) -> str:
    """The recorded reason to skip the audit while the service is unreachable ("" for none)."""
    if not path.exists():
        return ""
    recorded = tomllib.loads(path.read_text(encoding="utf-8")).get("unreachable_reason", "")
    return str(recorded).strip()


def service_reachable(client: httpx.Client | None = None) -> bool:
    """Tell whether PyPI answers per-release JSON queries, which pip-audit depends on."""
    url = PROBE_URL.format(version=importlib.metadata.version("pip-audit"))
    try:
        if client is None:
            with httpx.Client(timeout=PROBE_TIMEOUT_SECONDS) as own_client:
                response = own_client.get(url)
        else:
            response = client.get(url)
    except httpx.HTTPError:
        return False
    return response.status_code == HTTP_OK


def export_command(requirements: Path) -> list[str]:
    """The command writing every locked third-party dependency (all groups) to ``requirements``."""
    uv = os.environ.get("UV") or shutil.which("uv") or "uv"
    return [
        uv,
        "export",
        "--frozen",
        "--no-hashes",
        "--no-emit-workspace",
        "--all-packages",
        "--all-groups",
        "--quiet",
        "--output-file",
        str(requirements),
    ]


def audit_command(
    pip_audit: str, requirements: Path, ignores: Sequence[IgnoredVulnerability]
) -> list[str]:
    """The pip-audit command; ``--strict`` makes an unauditable dependency a failure."""
    command = [pip_audit, "--requirement", str(requirements), "--disable-pip", "--no-deps"]
    command += ["--strict", "--progress-spinner", "off"]
    for ignore in ignores:
        command += ["--ignore-vuln", ignore.id]
    return command
