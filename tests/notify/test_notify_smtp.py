"""E-mail over STARTTLS with a login, against a real SMTP server (aiosmtpd) that requires both:
the notifier verifies the server's certificate (a CA of the test's own, `ca_file`), logs in and
delivers; an untrusted certificate or a wrong password is a permanent failure, not a retry."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest

from firewatch.notify import message
from firewatch.notify.channels import ChannelError, send_email
from firewatch.notify.settings import EmailChannel
from tests.notify.peers import SmtpServer
from tests.notify.test_notify_units import event


def self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    return server, str(cert_path)


@pytest.fixture
def tls_smtp(tmp_path):
    context, ca_file = self_signed(tmp_path)
    server = SmtpServer(tls=context, login=("fire", "pw-1"))
    yield server, ca_file
    server.close()


def channel(server, **overrides) -> EmailChannel:
    values = dict(type="email", host="127.0.0.1", port=server.port, starttls=True, username="fire",
                  password="${X}", sender="fire@example.org", to=["ops@example.org"])  # fmt: skip
    ch = EmailChannel.model_validate(values)
    return ch.model_copy(update={"password": "pw-1", **overrides})  # as resolved from ${X}


def test_starttls_with_a_verified_certificate_and_a_login_delivers(tls_smtp):
    server, ca_file = tls_smtp
    note = message.notice(event(), "https://console.example.org")
    send_email(channel(server, ca_file=ca_file), note, None, timeout=5)
    ((_, mail, _),) = server.messages
    assert mail["Subject"] == "FIRE ALERT on camera ridge-1" and "alerts/ridge-1-A" in mail.get_body().get_content()


def test_an_untrusted_certificate_or_a_wrong_password_is_permanent(tls_smtp):
    server, ca_file = tls_smtp
    note = message.notice(event(), None)
    with pytest.raises(ChannelError, match="certificate not trusted") as untrusted:
        send_email(channel(server), note, None, timeout=5)  # the system's CAs do not know it
    with pytest.raises(ChannelError, match="SMTP refused") as refused:
        send_email(channel(server, ca_file=ca_file, password="wrong"), note, None, timeout=5)
    assert untrusted.value.permanent and refused.value.permanent and server.messages == []
