"""``agora asyncapi``: documents generated from every service's code, and the staleness check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs; only the tests parse YAML

from agora_cli import asyncapi
from agora_cli.main import main
from agora_cli.services import find_service

CHANNEL = "agora.user.registered"
PAYLOAD_FIELDS = ["user_id", "email", "full_name", "registered_at"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Path, str]]:
    """One real generation (a process per service), shared: it takes seconds."""
    root = tmp_path_factory.mktemp("repo")
    return root, asyncapi.generate(root)


@pytest.fixture
def repo(tmp_path: Path, generated: tuple[Path, dict[Path, str]]) -> tuple[Path, dict[Path, str]]:
    """A fresh repository root and the documents generated for it (same names, new root)."""
    root, documents = generated
    return tmp_path, {tmp_path / path.relative_to(root): text for path, text in documents.items()}


def operations_on(document: dict[str, Any], address: str) -> list[tuple[str, dict[str, Any]]]:
    """``(action, payload schema)`` of every operation on the channel with ``address``."""
    found = []
    for operation in document["operations"].values():
        channel_key = operation["channel"]["$ref"].rsplit("/", 1)[-1]
        if document["channels"][channel_key]["address"] != address:
            continue
        message_key = operation["messages"][0]["$ref"].rsplit("/", 1)[-1]
        message_ref = document["channels"][channel_key]["messages"][message_key]["$ref"]
        message = document["components"]["messages"][message_ref.rsplit("/", 1)[-1]]
        schema = document["components"]["schemas"][message["payload"]["$ref"].rsplit("/", 1)[-1]]
        found.append((operation["action"], schema))
    return found


def payload_fields(document: dict[str, Any], envelope: dict[str, Any]) -> list[str]:
    data = envelope["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
    return list(document["components"]["schemas"][data]["properties"])


def load(documents: dict[Path, str], name: str) -> dict[str, Any]:
    (text,) = [text for path, text in documents.items() if path.name == name]
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def test_generate_identity_sends_user_registered_with_its_payload(
    generated: tuple[Path, dict[Path, str]],
) -> None:
    document = load(generated[1], "identity.yaml")

    ((action, envelope),) = operations_on(document, CHANNEL)

    assert action == "send"
    assert payload_fields(document, envelope) == PAYLOAD_FIELDS


def test_generate_notification_receives_user_registered_with_its_payload(
    generated: tuple[Path, dict[Path, str]],
) -> None:
    document = load(generated[1], "notification.yaml")

    ((action, envelope),) = operations_on(document, CHANNEL)

    assert action == "receive"
    assert payload_fields(document, envelope) == PAYLOAD_FIELDS


def test_generate_one_document_per_service_with_channels_under_docs(
    generated: tuple[Path, dict[Path, str]],
) -> None:
    root, documents = generated

    assert sorted(path.relative_to(root).as_posix() for path in documents) == [
        "docs/asyncapi/basket.yaml",
        "docs/asyncapi/catalog.yaml",
        "docs/asyncapi/identity.yaml",
        "docs/asyncapi/notification.yaml",
        "docs/asyncapi/ordering.yaml",
        "docs/asyncapi/payment.yaml",
    ]


def test_generate_service_without_channels_gets_no_document(tmp_path: Path) -> None:
    identity = find_service("identity")
    assert identity is not None
    quiet = replace(identity, name="quiet", channels=None)

    assert asyncapi.generate(tmp_path, [quiet]) == {}


def test_generate_broken_declaration_fails_naming_the_service(tmp_path: Path) -> None:
    identity = find_service("identity")
    assert identity is not None
    broken = replace(identity, channels="agora_identity.channels:MISSING")

    with pytest.raises(asyncapi.GenerationError, match=r"(?s)identity: .*MISSING"):
        asyncapi.generate(tmp_path, [broken])


def test_stale_documents_fresh_write_is_up_to_date(repo: tuple[Path, dict[Path, str]]) -> None:
    root, documents = repo

    asyncapi.write_documents(root, documents)

    assert asyncapi.stale_documents(root, documents) == []


def test_stale_documents_missing_modified_and_orphan_files_are_stale(
    repo: tuple[Path, dict[Path, str]],
) -> None:
    root, documents = repo
    asyncapi.write_documents(root, documents)
    identity = root / "docs/asyncapi/identity.yaml"
    identity.write_text(identity.read_text() + "# edited by hand\n")
    (root / "docs/asyncapi/notification.yaml").unlink()
    (root / "docs/asyncapi/retired.yaml").write_text("asyncapi: 3.0.0\n")

    stale = asyncapi.stale_documents(root, documents)

    assert [path.name for path in stale] == ["identity.yaml", "notification.yaml", "retired.yaml"]


def test_write_documents_rewrites_stale_and_removes_orphans(
    repo: tuple[Path, dict[Path, str]],
) -> None:
    root, documents = repo
    (root / "docs/asyncapi").mkdir(parents=True)
    (root / "docs/asyncapi/retired.yaml").write_text("asyncapi: 3.0.0\n")
    (root / "docs/asyncapi/README.md").write_text("kept\n")

    asyncapi.write_documents(root, documents)

    assert sorted(path.name for path in (root / "docs/asyncapi").iterdir()) == [
        "README.md",
        "basket.yaml",
        "catalog.yaml",
        "identity.yaml",
        "notification.yaml",
        "ordering.yaml",
        "payment.yaml",
    ]


def test_main_asyncapi_check_stale_exits_1_naming_file_and_fix(
    repo: tuple[Path, dict[Path, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, documents = repo
    monkeypatch.setattr(asyncapi, "repo_root", lambda: root)
    monkeypatch.setattr(asyncapi, "generate", lambda _root: documents)
    asyncapi.write_documents(root, documents)
    (root / "docs/asyncapi/notification.yaml").write_text("asyncapi: 3.0.0\n")

    code = main(["asyncapi", "--check"])

    error = capsys.readouterr().err
    assert code == 1
    assert "docs/asyncapi/notification.yaml" in error
    assert "identity.yaml" not in error
    assert "./agora asyncapi" in error


def test_main_asyncapi_writes_then_check_passes(
    repo: tuple[Path, dict[Path, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, documents = repo
    monkeypatch.setattr(asyncapi, "repo_root", lambda: root)
    monkeypatch.setattr(asyncapi, "generate", lambda _root: documents)

    assert main(["asyncapi"]) == 0
    assert main(["asyncapi", "--check"]) == 0
    assert (root / "docs/asyncapi/identity.yaml").read_text() == documents[
        root / "docs/asyncapi/identity.yaml"
    ]


def test_main_asyncapi_generation_failure_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(_root: Path) -> dict[Path, str]:
        raise asyncapi.GenerationError("cannot generate AsyncAPI documents:\nidentity: boom")

    monkeypatch.setattr(asyncapi, "repo_root", lambda: tmp_path)
    monkeypatch.setattr(asyncapi, "generate", failing)

    assert main(["asyncapi", "--check"]) == 1
    assert "identity: boom" in capsys.readouterr().err
