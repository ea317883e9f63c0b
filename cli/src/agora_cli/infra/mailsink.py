"""The local SMTP sink (``agora_cli.mailsink``) as a supervised stack component named ``mail``."""

from __future__ import annotations

import sys
from pathlib import Path

from agora_cli.infra.nats import http_ok
from agora_cli.infra.ports import LOOPBACK, ensure_port_free, port_accepts
from agora_cli.infra.process import (
    PidFileTracked,
    spawn_and_await,
    stop_group,
)

START_TIMEOUT_SECONDS = 15.0
# Answered without reading the mailbox, so start-up and `agora status` cost the same however
# much mail the sink holds (the list used to be fetched, and timed out at ~330 messages).
HEALTH_PATH = "/health"


class MailSinkError(RuntimeError):
    """The mail sink could not be started."""


def mailsink_argv(smtp_port: int, http_port: int, maildir: Path, *, web: bool = True) -> list[str]:
    """The command line running the sink with this interpreter (``--no-web`` unless ``web``)."""
    return [
        sys.executable,
        "-m",
        "agora_cli.mailsink",
        "--smtp-port",
        str(smtp_port),
        "--http-port",
        str(http_port),
        "--maildir",
        str(maildir),
        *([] if web else ["--no-web"]),
    ]


class EmbeddedMailSink(PidFileTracked):
    """SMTP on ``smtp_port`` storing into a Maildir, with the web view on ``http_port``.

    Ready when ``/health`` answers 200 and the SMTP port accepts connections.
    """

    name = "mail"

    def __init__(
        self,
        maildir: Path,
        smtp_port: int,
        http_port: int,
        log_file: Path,
        pid_file: Path,
        *,
        web: bool = True,
    ) -> None:
        """Describe the sink; nothing starts until :meth:`start`.

        ``web=False`` (production profile) serves no mail over HTTP, only ``/health``.
        """
        self.web = web
        self.maildir = maildir.resolve()
        self.port = smtp_port
        self.http_port = http_port
        self.log_file = log_file
        self.pid_file = pid_file

    @property
    def url(self) -> str:
        """The base URL of the web view (direct, not through the gateway)."""
        return f"http://{LOOPBACK}:{self.http_port}/mail"

    def healthy(self) -> bool:
        """Tell whether ``/health`` answers 200 and SMTP accepts connections."""
        return http_ok(f"http://{LOOPBACK}:{self.http_port}{HEALTH_PATH}") and port_accepts(
            self.port
        )

    def start(self) -> None:
        """Start the sink and wait until it is healthy.

        Raises:
            MailSinkError: With the tail of the log when it does not come up.
        """
        if self.is_running():
            return
        ensure_port_free("mail smtp", self.port)
        ensure_port_free("mail http", self.http_port)
        argv = mailsink_argv(self.port, self.http_port, self.maildir, web=self.web)
        failure = spawn_and_await(
            self.name,
            argv,
            log_file=self.log_file,
            pid_file=self.pid_file,
            ready=self.healthy,
            running=self.is_running,
            stop=self.stop,
            timeout=START_TIMEOUT_SECONDS,
        )
        if failure:
            raise MailSinkError(failure)

    def stop(self) -> None:
        """Stop the sink (SIGTERM: uvicorn shuts down, then the SMTP server closes)."""
        stop_group(self.pid_file)
