"""JSON logging: record fields, files, idempotence, and PII masking."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from agora_chassis import logging as agora_logging
from agora_chassis.logging import (
    JsonFormatter,
    PiiMaskingFilter,
    configure_logging,
    correlation_id,
    mask_pii,
)

SERVICE = "test-service"
LOGGER_NAME = "agora.tests.logging"
EMAIL = "alice.smith@agora.local"
PASSWORD = "Sup3r-S3cret-Pa55"
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLWJ5dGVz"
APP_AND_ERROR_LOGS = ("app.log", "error.log")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def fail(exc: Exception) -> None:
    raise exc


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def log_to_files(tmp_path: Path) -> logging.Logger:
    configure_logging(SERVICE, log_dir=tmp_path, level="DEBUG")
    return logging.getLogger(LOGGER_NAME)


def test_configure_logging_info_record_has_all_fields(tmp_path: Path) -> None:
    logger = log_to_files(tmp_path)
    token = correlation_id.set("req-123")
    try:
        with TracerProvider().get_tracer(__name__).start_as_current_span("work") as span:
            logger.info("order %s placed", "o-1")
    finally:
        correlation_id.reset(token)

    [record] = read_lines(tmp_path / "app.log")
    context = span.get_span_context()
    assert record["message"] == "order o-1 placed"
    assert record["level"] == "INFO"
    assert record["logger"] == LOGGER_NAME
    assert record["service"] == SERVICE
    assert record["function"] == "test_configure_logging_info_record_has_all_fields"
    assert record["module"] == "test_logging"
    assert isinstance(record["line"], int)
    assert record["correlation_id"] == "req-123"
    assert record["trace_id"] == f"{context.trace_id:032x}"
    assert record["span_id"] == f"{context.span_id:016x}"
    assert record["timestamp"].endswith("Z")


def test_configure_logging_outside_span_trace_id_is_null(tmp_path: Path) -> None:
    log_to_files(tmp_path).info("no span")

    [record] = read_lines(tmp_path / "app.log")
    assert record["trace_id"] is None
    assert record["correlation_id"] is None


def test_configure_logging_called_twice_writes_each_record_once(tmp_path: Path) -> None:
    configure_logging(SERVICE, log_dir=tmp_path)
    configure_logging(SERVICE, log_dir=tmp_path)

    logging.getLogger(LOGGER_NAME).warning("once")

    assert len(read_lines(tmp_path / "app.log")) == 1


def test_configure_logging_error_log_receives_only_errors(tmp_path: Path) -> None:
    logger = log_to_files(tmp_path)

    logger.warning("just a warning")
    logger.error("a real error")

    assert [r["message"] for r in read_lines(tmp_path / "error.log")] == ["a real error"]
    assert len(read_lines(tmp_path / "app.log")) == 2


def test_configure_logging_files_rotate_at_10_mib_keeping_5(tmp_path: Path) -> None:
    configure_logging(SERVICE, log_dir=tmp_path)

    rotating = [h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler)]
    assert len(rotating) == 2
    assert all(h.maxBytes == 10 * 1024 * 1024 and h.backupCount == 5 for h in rotating)


def test_configure_logging_without_dir_writes_json_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(SERVICE, log_dir=None)

    logging.getLogger(LOGGER_NAME).warning("to the console")

    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert json.loads(line)["message"] == "to the console"


def test_configure_logging_exception_text_is_logged(tmp_path: Path) -> None:
    logger = log_to_files(tmp_path)

    try:
        fail(RuntimeError("boom"))
    except RuntimeError:
        logger.exception("failed")

    [record] = read_lines(tmp_path / "error.log")
    assert "RuntimeError: boom" in record["exception"]


def test_logging_email_and_password_in_args_never_reach_the_file(tmp_path: Path) -> None:
    logger = log_to_files(tmp_path)

    logger.info("login for %s with password=%s", EMAIL, PASSWORD)

    raw = (tmp_path / "app.log").read_text(encoding="utf-8")
    assert EMAIL not in raw
    assert PASSWORD not in raw
    assert "a***@agora.local" in raw


def test_logging_secrets_in_extra_dict_are_masked(tmp_path: Path) -> None:
    logger = log_to_files(tmp_path)

    logger.info("payload", extra={"payload": {"email": EMAIL, "password": PASSWORD}})

    [record] = read_lines(tmp_path / "app.log")
    assert record["payload"] == {"email": "a***@agora.local", "password": "***"}


def test_logging_secret_extra_key_is_masked_whole(tmp_path: Path) -> None:
    logger = log_to_files(tmp_path)

    logger.info("issued", extra={"access_token": JWT})

    [record] = read_lines(tmp_path / "app.log")
    assert record["access_token"] == "***"


def test_logging_pii_in_exception_text_is_masked(tmp_path: Path) -> None:
    logger = log_to_files(tmp_path)

    try:
        fail(ValueError(f"duplicate key (email)=({EMAIL})"))
    except ValueError:
        logger.exception("insert failed")

    assert EMAIL not in (tmp_path / "error.log").read_text(encoding="utf-8")


def test_mask_pii_email_keeps_first_character_and_domain() -> None:
    assert mask_pii(f"user {EMAIL} signed up") == "user a***@agora.local signed up"


def test_mask_pii_json_secret_values_are_masked() -> None:
    text = json.dumps({"username": "bob", "password": PASSWORD, "refresh_token": "abc.def"})

    masked = json.loads(mask_pii(text))

    assert masked == {"username": "bob", "password": "***", "refresh_token": "***"}


def test_mask_pii_dict_repr_secret_values_are_masked() -> None:
    assert PASSWORD not in mask_pii(str({"password": PASSWORD}))


def test_mask_pii_key_value_pairs_are_masked() -> None:
    masked = mask_pii(f"GET /cb?client_secret={PASSWORD}&state=ok token: tok123")

    assert masked == "GET /cb?client_secret=***&state=ok token: ***"


def test_mask_pii_bearer_header_is_masked() -> None:
    assert mask_pii("Authorization: Bearer abc.def-ghi") == "Authorization: ***"


def test_mask_pii_bare_jwt_is_masked() -> None:
    assert mask_pii(f"got {JWT} from client") == "got *** from client"


def test_mask_pii_password_in_url_is_masked() -> None:
    masked = mask_pii(f"connect to postgresql+asyncpg://agora:{PASSWORD}@db:5432/agora failed")

    assert masked == "connect to postgresql+asyncpg://agora:***@db:5432/agora failed"


def test_mask_pii_plain_text_is_unchanged() -> None:
    text = "order 42 shipped to warehouse-7 at 10:30"

    assert mask_pii(text) == text


def test_logging_pii_in_extra_list_is_masked(tmp_path: Path) -> None:
    logger = log_to_files(tmp_path)

    logger.info("recipients", extra={"recipients": [EMAIL, "b.jones@agora.local"]})

    [record] = read_lines(tmp_path / "app.log")
    assert record["recipients"] == ["a***@agora.local", "b***@agora.local"]


def test_pii_filter_bad_format_arguments_do_not_raise() -> None:
    record = logging.LogRecord(LOGGER_NAME, logging.INFO, __file__, 1, "two %s %s", (EMAIL,), None)

    assert PiiMaskingFilter().filter(record) is True
    assert record.getMessage().startswith("two %s %s")
    assert EMAIL not in record.getMessage()


def test_logging_stack_info_is_included_and_masked(tmp_path: Path) -> None:
    logger = log_to_files(tmp_path)

    logger.info("where am I", stack_info=True, extra={"note": f"for {EMAIL}"})

    [record] = read_lines(tmp_path / "app.log")
    assert "test_logging_stack_info_is_included_and_masked" in record["stack"]
    assert record["note"] == "for a***@agora.local"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("X-Api-Key: k3y-V4lue-123", "X-Api-Key: ***"),
        ("GET /v1?api_key=k3y-V4lue-123&q=mug", "GET /v1?api_key=***&q=mug"),
        ('{"apiKey": "k3y-V4lue-123"}', '{"apiKey": "***"}'),
        ("PASSWORD=Hunter2 rejected", "PASSWORD=*** rejected"),
        ("passwd=Hunter2 rejected", "passwd=*** rejected"),
        ("passphrase: correct-horse", "passphrase: ***"),
        ("Cookie: session=abc123", "Cookie: ***"),
        ("Authorization: Basic dXNlcjpwdw==", "Authorization: ***"),
        ("retrying with Bearer abc.def-ghi now", "retrying with Bearer *** now"),
        ("redis://:Hunter2@cache:6379/0 is down", "redis://:***@cache:6379/0 is down"),
        ("mail BOB.Jones@Example.COM", "mail B***@Example.COM"),
    ],
)
def test_mask_pii_each_kind_of_secret_is_masked(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def test_logging_record_for_three_handlers_is_masked_once_and_rendered_alike(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    masked: list[str] = []

    def counting_mask_pii(text: str) -> str:
        masked.append(text)
        return mask_pii(text)

    monkeypatch.setattr(agora_logging, "mask_pii", counting_mask_pii)
    logger = log_to_files(tmp_path)  # console, app.log and error.log

    logger.error("login for %s failed", EMAIL)

    console = capsys.readouterr().err.strip().splitlines()[-1]
    app_line, error_line = (
        (tmp_path / name).read_text(encoding="utf-8").strip() for name in APP_AND_ERROR_LOGS
    )
    assert masked == [f"login for {EMAIL} failed"]
    assert console == app_line == error_line
    record = json.loads(console)
    assert record["message"] == "login for a***@agora.local failed"
    assert not {"_agora_masked", "_agora_json"} & record.keys()


def test_json_formatter_other_service_name_renders_its_own_line() -> None:
    record = logging.LogRecord(LOGGER_NAME, logging.INFO, __file__, 1, "hello", None, None)
    PiiMaskingFilter().filter(record)

    first = json.loads(JsonFormatter("first-service").format(record))
    second = json.loads(JsonFormatter("second-service").format(record))

    assert (first["service"], second["service"]) == ("first-service", "second-service")
    assert second["message"] == "hello"
    assert not {"_agora_masked", "_agora_json"} & second.keys()


@pytest.mark.parametrize(("access_log", "written"), [(False, 0), (True, 1)])
def test_configure_logging_access_lines_only_when_asked(
    tmp_path: Path, access_log: bool, written: int
) -> None:
    configure_logging(SERVICE, log_dir=tmp_path, level="INFO", access_log=access_log)
    logging.getLogger("uvicorn.access").info('%s - "%s %s" %d', "1.2.3.4:5", "GET", "/x", 200)
    logging.getLogger("uvicorn.error").info("started")

    lines = read_lines(tmp_path / "app.log")
    assert len([line for line in lines if line["logger"] == "uvicorn.access"]) == written
    assert [line["message"] for line in lines if line["logger"] == "uvicorn.error"] == ["started"]
