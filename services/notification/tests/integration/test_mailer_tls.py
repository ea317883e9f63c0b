"""The mailer against a real SMTP server (aiosmtpd) that offers STARTTLS with its own certificate.

The certificate is generated here (``cryptography``), signed by itself, and handed to the mailer
as its CA bundle: verification stays on, as it is in production.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agora_cli.infra.ports import free_port
from agora_notification.services.mailer import Mailer, SmtpConfig
from agora_notification.services.templates import RenderedMail

pytestmark = pytest.mark.integration

LOOPBACK = "127.0.0.1"
CERT_DAYS = 1


@dataclass
class TlsRecorder:
    """Records, per delivered message, whether its session had been upgraded to TLS."""

    upgraded: list[bool] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, _server: SMTP, session: Session, _envelope: Envelope
    ) -> str:
        self.upgraded.append(session.ssl is not None)
        return "250 OK"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key; returns (cert, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agora test relay")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "relay.pem", directory / "relay.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def tls_relay(tmp_path: Path) -> Iterator[tuple[int, Path, TlsRecorder]]:
    """An SMTP server offering (not requiring) STARTTLS: (port, its certificate, recorder)."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    recorder = TlsRecorder()
    port = free_port()
    controller = Controller(recorder, hostname=LOOPBACK, port=port, tls_context=context)
    controller.start()
    yield port, cert_file, recorder
    controller.stop()


def config(port: int, ca_file: Path | None, starttls: bool | None) -> SmtpConfig:
    """Mailer settings for the relay on ``port``."""
    return SmtpConfig(
        host=LOOPBACK,
        port=port,
        starttls=starttls,
        username=None,
        password=None,
        timeout=10,
        sender="no-reply@agora.test",
        ca_file=str(ca_file) if ca_file else None,
    )


async def test_mailer_default_upgrades_with_starttls_when_offered(
    tls_relay: tuple[int, Path, TlsRecorder],
) -> None:
    port, cert_file, recorder = tls_relay

    await Mailer(config(port, cert_file, starttls=None)).send(
        "ada@example.com", "Welcome", RenderedMail(text="Hi", html="<p>Hi</p>")
    )

    assert recorder.upgraded == [True]


async def test_mailer_starttls_verifies_the_relay_certificate(
    tls_relay: tuple[int, Path, TlsRecorder],
) -> None:
    port, _cert_file, recorder = tls_relay

    with pytest.raises(ssl.SSLCertVerificationError):
        await Mailer(config(port, None, starttls=None)).send(
            "ada@example.com", "Welcome", RenderedMail(text="Hi", html="<p>Hi</p>")
        )

    assert recorder.upgraded == []
