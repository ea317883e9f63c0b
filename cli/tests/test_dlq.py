"""``agora dlq`` without a stack: argument checks, login rules, error and table formatting.

The journey against a running stack is tests/system/test_dead_letters_journey.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from agora_chassis.pagination import MAX_PAGE_DEPTH
from agora_cli import dlq
from agora_cli.config import StackConfig
from agora_cli.main import build_parser, main


def test_consuming_services_default_is_every_consumer() -> None:
    assert [spec.name for spec in dlq.consuming_services(None)] == [
        "notification",
        "catalog",
        "basket",
        "ordering",
        "payment",
    ]
    assert [spec.name for spec in dlq.consuming_services("notification")] == ["notification"]


@pytest.mark.parametrize("name", ["identity", "nosuch"])
def test_consuming_services_refuses_non_consumers(name: str) -> None:
    with pytest.raises(
        dlq.DlqError, match="choose one of: notification, catalog, basket, ordering, payment"
    ):
        dlq.consuming_services(name)


def test_login_in_production_needs_a_password(tmp_path: Path) -> None:
    config = StackConfig(data_dir=tmp_path, profile="production")

    with pytest.raises(dlq.DlqError, match="set AGORA_ADMIN_PASSWORD"):
        dlq.login(config, {})


def test_expect_turns_a_problem_into_its_detail() -> None:
    problem = httpx.Response(409, json={"title": "Conflict", "detail": "the event failed again"})
    plain = httpx.Response(502, text="Bad Gateway")

    with pytest.raises(dlq.DlqError, match=r"^409: the event failed again$"):
        dlq._expect(problem, 200)
    with pytest.raises(dlq.DlqError, match=r"^502: Bad Gateway$"):
        dlq._expect(plain, 200)
    assert dlq._expect(httpx.Response(204), 204).status_code == 204


def test_list_letters_stops_at_the_paging_depth_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = 2 * MAX_PAGE_DEPTH

    def letters(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        if page * dlq.PAGE_SIZE > MAX_PAGE_DEPTH:
            return httpx.Response(422, json={"detail": "too deep"})
        body = {"data": [{"id": f"l{page}"}], "total": total, "total_pages": total // dlq.PAGE_SIZE}
        return httpx.Response(200, json=body)

    client = httpx.Client(transport=httpx.MockTransport(letters))
    admin = dlq.Admin(StackConfig(data_dir=tmp_path), client)

    listed = list(dlq.list_letters(admin, dlq.consuming_services(None)[0], "pending"))

    assert len(listed) == MAX_PAGE_DEPTH // dlq.PAGE_SIZE
    assert f"oldest {MAX_PAGE_DEPTH} of {total}" in capsys.readouterr().err


def test_summary_table_shortens_errors_and_names_undecodable() -> None:
    item = {
        "service": "notification",
        "id": "0190-a",
        "event_type": None,
        "attempts": 0,
        "last_failed_at": "2026-11-23T12:00:00.123456Z",
        "state": "pending",
        "error": "x" * 100 + "\nsecond line",
    }

    table = dlq._summary_table([item])

    assert "(undecodable)" in table
    assert "2026-11-23T12:00:00 " in table
    assert "x" * (dlq.ERROR_WIDTH - 1) + "…" in table
    assert "second line" not in table


def test_replay_needs_an_id_or_all() -> None:
    parser = build_parser()

    with pytest.raises(SystemExit):
        parser.parse_args(["dlq", "replay"])
    with pytest.raises(SystemExit):
        parser.parse_args(["dlq", "replay", "some-id", "--all"])
    assert parser.parse_args(["dlq", "replay", "--all"]).all is True


def test_dlq_bad_service_fails_before_login(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dlq", "list", "--service", "identity", "--data-dir", "/nonexistent-agora"])

    assert code == 1
    assert "'identity' has no dead letters" in capsys.readouterr().err
