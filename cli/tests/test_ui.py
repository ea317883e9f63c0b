"""Unit tests of the terminal output helpers."""

from __future__ import annotations

import pytest

from agora_cli.ui import format_table, step


def test_format_table_pads_columns_to_widest_cell() -> None:
    table = format_table(("name", "port"), [("postgres", 15432), ("nats", 4)])
    assert table.splitlines() == [
        "name      port",
        "--------  -----",
        "postgres  15432",
        "nats      4",
    ]


def test_format_table_no_rows_returns_header_only() -> None:
    assert format_table(("a", "bb"), []).splitlines() == ["a  bb", "-  --"]


def test_format_table_wrong_cell_count_raises() -> None:
    with pytest.raises(ValueError, match="expected 2"):
        format_table(("a", "b"), [("only one",)])


def test_step_success_prints_ok(capsys: pytest.CaptureFixture[str]) -> None:
    with step("starting redis"):
        pass
    assert capsys.readouterr().out.startswith("starting redis ... ok (")


def test_step_failure_prints_failed_and_reraises(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), step("starting nats"):
        raise RuntimeError("boom")
    assert "starting nats ... FAILED" in capsys.readouterr().out


def test_step_to_stderr_keeps_stdout_clean(capsys: pytest.CaptureFixture[str]) -> None:
    with step("booting", to_stderr=True):
        pass

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("booting ... ok (")
