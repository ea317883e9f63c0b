"""System test: the mail sink of ``agora up``, fed over SMTP, read on the operator entrypoint."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import httpx
import pytest

from tests.system.delivery import all_mail, mail_api_url
from tests.system.stack import AgoraRun, alive, stack_processes

pytestmark = pytest.mark.system


def send(port: int, to: str, subject: str) -> None:
    """Send one text + HTML message to the sink's SMTP port."""
    message = EmailMessage()
    message["From"] = "noreply@agora.test"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Welcome!")
    message.add_alternative("<p>Welcome!</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_up_mail_sink_serves_mail_on_operator_entrypoint_and_down_leaves_no_process(
    agora: AgoraRun,
) -> None:
    up = agora("up", "--detach", "--infra-only")
    assert up.returncode == 0, up.stdout + up.stderr
    processes = stack_processes(agora.data_dir)
    gateway = f"http://127.0.0.1:{agora.port('AGORA_GATEWAY_PORT')}"
    empty = httpx.get(mail_api_url(agora))
    send(agora.port("AGORA_SMTP_PORT"), "ada@example.test", "Welcome to Agora")
    listed = all_mail(agora)
    page = httpx.get(f"{agora.operator_url}/mail")
    public = httpx.get(f"{gateway}/mail")
    status = agora("status")
    restart = agora("restart", "mail")
    after_restart = all_mail(agora)
    logs = agora("logs", "mail")

    down = agora("down")

    assert f"{agora.operator_url}/mail" in up.stdout
    # Not the sink: the public entrypoint hands every non-API path to the storefront, which an
    # --infra-only stack does not run (502, as Problem Details).
    assert public.status_code == 502
    assert public.headers["content-type"] == "application/problem+json"
    assert (empty.status_code, empty.json()["data"], empty.json()["total"]) == (200, [], 0)
    assert [(m["to"], m["subject"]) for m in listed] == [("ada@example.test", "Welcome to Agora")]
    assert listed[0]["html"] == "<p>Welcome!</p>\n"
    assert page.status_code == 200
    assert "Welcome to Agora" in page.text
    # Columns: component, state, pid, port, health, memory ("24.0 MiB": two fields).
    assert any(
        line.split()[:2] == ["mail", "up"] and line.split()[4] == "ok"
        for line in status.stdout.splitlines()
    ), status.stdout
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert after_restart == listed
    assert "stored" in logs.stdout
    assert "mail" in down.stdout
    assert alive(processes) == []
    assert alive(stack_processes(agora.data_dir)) == []


def test_up_production_profile_has_no_mail_page(agora: AgoraRun) -> None:
    up = agora("up", "--detach", "--infra-only", "--profile", "production")
    assert up.returncode == 0, up.stdout + up.stderr
    operator = httpx.get(f"{agora.operator_url}/mail")
    direct = httpx.get(f"http://127.0.0.1:{agora.port('AGORA_MAIL_HTTP_PORT')}/mail/api/messages")
    health = httpx.get(f"http://127.0.0.1:{agora.port('AGORA_MAIL_HTTP_PORT')}/health")

    down = agora("down")

    assert (operator.status_code, operator.headers["content-type"]) == (
        404,
        "application/problem+json",
    )
    assert direct.status_code == 404  # the sink serves no mail over HTTP at all
    assert health.status_code == 200
    assert "/mail" not in up.stdout
    assert down.returncode == 0
