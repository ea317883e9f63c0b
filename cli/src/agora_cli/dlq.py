"""``agora dlq``: list, show, replay and purge dead letters of the running stack's services.

A client of each consuming service's admin API (``/api/v1/admin/dead-letters``), called on the
service's loopback port with an admin token from identity. The admin login comes from
``AGORA_ADMIN_EMAIL``/``AGORA_ADMIN_PASSWORD``, or the development default of ``agora up``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from agora_cli.config import StackConfig, resolve_config
from agora_cli.env import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD, service_port
from agora_cli.services import IDENTITY, SERVICES, ServiceSpec, find_service
from agora_cli.ui import format_table, say, warn

API = "/api/v1/admin/dead-letters"
TIMEOUT_SECONDS = 120.0  # a replay runs the handler with its retries
PAGE_SIZE = 100
REPLAY_BATCH = 10
ERROR_WIDTH = 60
HTTP_OK, HTTP_NO_CONTENT, HTTP_NOT_FOUND = 200, 204, 404


class DlqError(Exception):
    """A failure to report to the user as ``agora: <message>`` (exit status 1)."""


@dataclass
class Admin:
    """An admin session against one stack: the config and a bearer token."""

    config: StackConfig
    client: httpx.Client

    def url(self, spec: ServiceSpec, path: str = "") -> str:
        """The URL of ``path`` under ``spec``'s dead-letter API."""
        return f"http://127.0.0.1:{service_port(self.config, spec)}{API}{path}"

    def call(self, spec: ServiceSpec, method: str, path: str = "", **kw: Any) -> httpx.Response:
        """Send one request; an unreachable service becomes a :class:`DlqError`."""
        try:
            return self.client.request(method, self.url(spec, path), **kw)
        except httpx.TransportError as exc:
            raise DlqError(
                f"{spec.name} is not reachable ({exc}); start it with `agora up`"
            ) from exc


def consuming_services(name: str | None) -> list[ServiceSpec]:
    """The services ``--service`` selects (every service that consumes events by default)."""
    if name is None:
        return [spec for spec in SERVICES if spec.consumes_events]
    spec = find_service(name)
    if spec is None or not spec.consumes_events:
        choices = ", ".join(spec.name for spec in SERVICES if spec.consumes_events)
        raise DlqError(f"{name!r} has no dead letters; choose one of: {choices}")
    return [spec]


def login(config: StackConfig, environ: Mapping[str, str]) -> httpx.Client:
    """Get an admin access token from identity and return a client that sends it."""
    email = environ.get("AGORA_ADMIN_EMAIL", DEV_ADMIN_EMAIL)
    password = environ.get("AGORA_ADMIN_PASSWORD")
    if password is None:
        if config.profile == "production":
            raise DlqError("set AGORA_ADMIN_PASSWORD (production has no default admin login)")
        password = DEV_ADMIN_PASSWORD
    url = f"http://127.0.0.1:{service_port(config, IDENTITY)}/api/v1/auth/token"
    try:
        response = httpx.post(url, data={"username": email, "password": password}, timeout=10)
    except httpx.TransportError as exc:
        raise DlqError(f"identity is not reachable ({exc}); start it with `agora up`") from exc
    if response.status_code != HTTP_OK:
        raise DlqError(
            f"admin login as {email} refused ({response.status_code}); "
            "set AGORA_ADMIN_EMAIL and AGORA_ADMIN_PASSWORD"
        )
    token = response.json()["access_token"]
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_SECONDS)


def _problem(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.reason_phrase)
    except ValueError:
        return response.text[:200] or response.reason_phrase


def _expect(response: httpx.Response, *codes: int) -> httpx.Response:
    if response.status_code not in codes:
        raise DlqError(f"{response.status_code}: {_problem(response)}")
    return response


def list_letters(admin: Admin, spec: ServiceSpec, state: str) -> Iterator[dict[str, Any]]:
    """The dead letters of ``spec`` in ``state``, page by page, each tagged with the service.

    Paging reaches the oldest ``MAX_PAGE_DEPTH`` letters (the API refuses deeper pages); past
    that a warning says how many more there are.
    """
    # Imported here: the pagination module pulls in FastAPI, seconds of every `agora` command.
    from agora_chassis.pagination import MAX_PAGE_DEPTH

    page = 1
    while True:
        params = {"state": state, "page": page, "per_page": PAGE_SIZE}
        body = _expect(admin.call(spec, "GET", params=params), HTTP_OK).json()
        for item in body["data"]:
            yield {"service": spec.name, **item}
        if page >= body["total_pages"]:
            return
        if (page + 1) * PAGE_SIZE > MAX_PAGE_DEPTH:
            warn(
                f"{spec.name}: listed the oldest {page * PAGE_SIZE} of {body['total']} dead "
                "letters; replay or purge some to see the rest"
            )
            return
        page += 1


def find_letter(admin: Admin, specs: list[ServiceSpec], letter_id: str) -> tuple[ServiceSpec, Any]:
    """The service holding dead letter ``letter_id`` and the letter's details."""
    for spec in specs:
        response = admin.call(spec, "GET", f"/{letter_id}")
        if response.status_code == HTTP_OK:
            return spec, response.json()
        if response.status_code != HTTP_NOT_FOUND:
            _expect(response, HTTP_OK)
    raise DlqError(f"no dead letter {letter_id} in {', '.join(s.name for s in specs)}")


def _summary_table(items: list[dict[str, Any]]) -> str:
    rows = [
        (
            item["service"],
            item["id"],
            item["event_type"] or "(undecodable)",
            item["attempts"],
            item["last_failed_at"][:19],
            item["state"],
            _shorten(item["error"]),
        )
        for item in items
    ]
    headers = ("SERVICE", "ID", "TYPE", "TRIES", "LAST FAILED (UTC)", "STATE", "ERROR")
    return format_table(headers, rows)


def _shorten(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"


def _cmd_list(admin: Admin, args: argparse.Namespace) -> int:
    items = [
        item
        for spec in consuming_services(args.service)
        for item in list_letters(admin, spec, args.state)
    ]
    if args.json:
        say(json.dumps(items, indent=2))
    elif items:
        say(_summary_table(items))
    else:
        say(f"no {args.state} dead letters" if args.state != "all" else "no dead letters")
    return 0


def _cmd_show(admin: Admin, args: argparse.Namespace) -> int:
    spec, letter = find_letter(admin, consuming_services(args.service), args.id)
    letter = {"service": spec.name, **letter}
    if args.json:
        say(json.dumps(letter, indent=2))
        return 0
    for key in ("service", "id", "event_id", "event_type", "state", "attempts"):
        say(f"{key:>16}: {letter[key]}")
    for key in ("first_failed_at", "last_failed_at", "replayed_at"):
        say(f"{key:>16}: {letter[key] or '-'}")
    say(f"{'error':>16}: {letter['error']}")
    if letter["envelope"] is not None:
        say("envelope:\n" + json.dumps(letter["envelope"], indent=2))
    else:
        say(f"raw body (base64): {letter['raw_base64']}")
    if letter["stack"]:
        say("stack:\n" + letter["stack"].rstrip())
    return 0


def _replay_all(admin: Admin, spec: ServiceSpec) -> tuple[int, int]:
    replayed = failed = 0
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": REPLAY_BATCH}
        if after is not None:
            params["after"] = after
        report = _expect(admin.call(spec, "POST", "/replay", params=params), HTTP_OK).json()
        replayed, failed = replayed + len(report["replayed"]), failed + len(report["failed"])
        for letter_id in report["failed"]:
            warn(f"{spec.name}: {letter_id} failed again")
        say(f"{spec.name}: {replayed} replayed, {failed} failed so far")
        after = report["next_after"]
        if after is None:
            return replayed, failed


def _cmd_replay(admin: Admin, args: argparse.Namespace) -> int:
    specs = consuming_services(args.service)
    if args.all:
        totals = [_replay_all(admin, spec) for spec in specs]
        replayed, failed = sum(t[0] for t in totals), sum(t[1] for t in totals)
        say(f"replayed {replayed}, failed again {failed}")
        return 1 if failed else 0
    spec, _letter = find_letter(admin, specs, args.id)
    response = admin.call(spec, "POST", f"/{args.id}/replay")
    _expect(response, HTTP_OK)
    say(f"replayed {args.id} ({spec.name})")
    return 0


def _cmd_purge(admin: Admin, args: argparse.Namespace) -> int:
    spec, _letter = find_letter(admin, consuming_services(args.service), args.id)
    _expect(admin.call(spec, "DELETE", f"/{args.id}"), HTTP_NO_CONTENT)
    say(f"purged {args.id} ({spec.name})")
    return 0


ACTIONS = {"list": _cmd_list, "show": _cmd_show, "replay": _cmd_replay, "purge": _cmd_purge}


def cmd_dlq(args: argparse.Namespace) -> int:
    """Run one ``agora dlq`` action against the running stack."""
    try:
        config = resolve_config(args.data_dir)
        consuming_services(args.service)  # a bad --service fails before logging in
        with login(config, os.environ) as client:
            return ACTIONS[args.action](Admin(config, client), args)
    except DlqError as exc:
        warn(f"agora: {exc}")
        return 1


def add_parser(commands: Any, add_data_dir: Any) -> None:
    """Register ``agora dlq`` and its actions on the CLI's subparsers."""
    dlq = commands.add_parser("dlq", help="inspect, replay and purge dead letters")
    actions = dlq.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list dead letters (pending ones by default)")
    listing.add_argument("--state", choices=("pending", "replayed", "all"), default="pending")
    listing.add_argument("--json", action="store_true", help="print JSON")
    show = actions.add_parser("show", help="show one dead letter: envelope, error, stack")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="print JSON")
    replay = actions.add_parser("replay", help="run dead letters through their handler again")
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", help="the dead letter to replay")
    target.add_argument("--all", action="store_true", help="every pending dead letter")
    purge = actions.add_parser("purge", help="delete a dead letter for good")
    purge.add_argument("id")
    for sub in (listing, show, replay, purge):
        sub.add_argument("--service", help="only this service (default: every consumer)")
        add_data_dir(sub)
