"""The box's certificates: made once, re-issued by the same CA when its names change, and
the owner's own certificate installed with checks that change nothing when they fail."""

from __future__ import annotations

import socket
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge_app.appliance import tls
from edge_app.cli.main import EXIT_CONFIG, EXIT_OK, main
from edge_app.errors import ConfigError
from edge_app.settings import Settings


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", host="127.0.0.1")


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates(path.read_bytes())[0]


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_first_start_makes_a_ca_and_a_server_certificate(settings: Settings) -> None:
    files = tls.ensure_certificate(settings)
    server, ca = _cert(files.cert), _cert(files.ca)
    server.verify_directly_issued_by(ca)  # signed by the box's own CA
    san = _san(server)
    host = socket.gethostname().split(".")[0]
    assert {host, f"{host}.local", "localhost"} <= set(san.get_values_for_type(x509.DNSName))
    assert ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0
    for secret in (files.key, files.ca_key):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert files.source() == tls.GENERATED
    assert len(tls.fingerprint(files.cert).split(":")) == 32


def test_the_certificate_is_kept_until_the_names_change(settings: Settings) -> None:
    files = tls.ensure_certificate(settings)
    first, ca = tls.fingerprint(files.cert), files.ca.read_bytes()
    assert tls.fingerprint(tls.ensure_certificate(settings).cert) == first  # a restart
    moved = replace(settings, host="10.77.0.5")  # e.g. a new fixed LAN address
    tls.ensure_certificate(moved)
    assert tls.fingerprint(files.cert) != first
    assert files.ca.read_bytes() == ca  # the same CA: nobody has to trust anything anew
    assert ip_address("10.77.0.5") in _san(_cert(files.cert)).get_values_for_type(x509.IPAddress)


def _school_cert(tmp: Path, days: int = 90, start: int = -1) -> tuple[Path, Path, Path]:
    """A 'school CA' and a certificate it issued for the box: (cert, key, chain) PEM files."""
    ca_key, ca_cert = tls.make_ca("school")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "photos.school")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=start))
        .not_valid_after(now + timedelta(days=start + days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("photos.school")]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp / "cert.pem", tmp / "key.pem", tmp / "chain.pem"
    paths[0].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return paths


def test_the_owner_installs_a_school_certificate(settings: Settings, tmp_path: Path) -> None:
    tls.ensure_certificate(settings)
    cert, key, chain = _school_cert(tmp_path)
    args = ["--data-dir", str(settings.data_dir), "tls", "install"]
    assert main([*args, "--cert", str(cert), "--key", str(key), "--chain", str(chain)]) == 0
    files = tls.TlsFiles.of(settings)
    assert files.source() == tls.OWNER
    served = x509.load_pem_x509_certificates(files.cert.read_bytes())
    assert [c.subject for c in served] == [_cert(cert).subject, _cert(chain).subject]
    assert tls.ensure_certificate(replace(settings, host="10.9.9.9")).cert.read_bytes() == (
        files.cert.read_bytes()
    )  # the daemon never re-issues the owner's certificate
    tls.use_generated(settings)
    assert files.source() == tls.GENERATED
    assert _cert(files.cert).issuer == _cert(files.ca).subject


@pytest.mark.parametrize("problem", ["wrong key", "expired", "not yet valid", "encrypted", "junk"])
def test_a_bad_owner_certificate_changes_nothing(
    settings: Settings, tmp_path: Path, problem: str
) -> None:
    files = tls.ensure_certificate(settings)
    before = files.cert.read_bytes(), files.key.read_bytes()
    cert, key, _chain = _school_cert(tmp_path)
    if problem == "wrong key":
        (tmp_path / "other").mkdir()
        key = _school_cert(tmp_path / "other")[1]
    elif problem in ("expired", "not yet valid"):
        cert, key, _chain = _school_cert(tmp_path, start=-100 if problem == "expired" else 5)
    elif problem == "encrypted":
        loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
        key.write_bytes(
            loaded.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            )
        )
    else:
        cert.write_text("not a certificate")
    messages = {
        "wrong key": "does not belong",
        "expired": "not now",
        "not yet valid": "not now",
        "encrypted": "is encrypted",
        "junk": "cannot read a PEM certificate",
    }
    with pytest.raises(ConfigError, match=messages[problem]):
        tls.install_owner_certificate(settings, cert, key)
    assert (files.cert.read_bytes(), files.key.read_bytes()) == before
    assert files.source() == tls.GENERATED


def test_status_and_tls_show_print_the_fingerprint(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(settings.data_dir)]
    assert main([*data, "tls", "show"]) == EXIT_OK
    assert "no certificate yet" in capsys.readouterr().out
    files = tls.ensure_certificate(settings)
    assert main([*data, "tls", "show"]) == EXIT_OK
    assert tls.fingerprint(files.cert) in capsys.readouterr().out


def test_tls_install_reports_a_missing_file(settings: Settings, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    args = ["--data-dir", str(settings.data_dir), "tls", "install", "--cert", missing]
    assert main([*args, "--key", missing]) == EXIT_CONFIG
