"""The box's own TLS: a small local CA and a server certificate, or the owner's certificate.

Why a local CA and not one self-signed server certificate: the CA (``tls/ca.pem``) can be
given once to the school's browsers, and the server certificate it signs can be re-issued
when the box's name or LAN address changes without anyone re-trusting anything. Keys are
made with `cryptography` (ECDSA P-256); nothing here is hand-rolled crypto. Files live in
``<data_dir>/tls`` (keys 0600); ``tls/source`` says whose certificate is served:
``generated`` (ours, re-issued as names change) or ``owner`` (installed with
``edge-app tls install``, never touched by the daemon).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge_app.errors import ConfigError
from edge_app.private_files import write_private
from edge_app.settings import Settings

log = logging.getLogger(__name__)

CA_DAYS = 10 * 365
SERVER_DAYS = 825  # the longest validity Apple platforms accept for a server certificate
GENERATED, OWNER = "generated", "owner"
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class TlsFiles:
    """Where the certificate material of one data dir lives."""

    folder: Path

    @classmethod
    def of(cls, settings: Settings) -> TlsFiles:
        return cls(settings.data_dir / "tls")

    @property
    def cert(self) -> Path:  # the server certificate, followed by its chain
        return self.folder / "cert.pem"

    @property
    def key(self) -> Path:
        return self.folder / "key.pem"

    @property
    def ca(self) -> Path:  # the local CA's certificate (what a client trusts)
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def source_file(self) -> Path:
        return self.folder / "source"

    def source(self) -> str | None:
        """``generated``, ``owner`` or None (nothing made yet)."""
        if not (self.cert.is_file() and self.key.is_file()):
            return None
        text = self.source_file.read_text().strip() if self.source_file.is_file() else ""
        return OWNER if text == OWNER else GENERATED


@dataclass(frozen=True)
class Names:
    """The names a browser may use for the box (the certificate's subjectAltName)."""

    dns: tuple[str, ...]
    ips: tuple[IpAddress, ...]

    def san(self) -> x509.SubjectAlternativeName:
        entries: list[x509.GeneralName] = [x509.DNSName(d) for d in self.dns]
        entries += [x509.IPAddress(ip) for ip in self.ips]
        return x509.SubjectAlternativeName(entries)


def lan_address() -> str | None:
    """The address other machines reach us on (no packet is sent: UDP connect only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing lookup only, nothing is sent
            return str(s.getsockname()[0])
        except OSError:
            return None


def box_names(settings: Settings) -> Names:
    """Hostname, ``<hostname>.local`` (mDNS), localhost and the LAN/loopback addresses."""
    host = socket.gethostname().split(".")[0] or "edge-search"
    dns = dict.fromkeys([host, f"{host}.local", "localhost"])
    ips = dict.fromkeys(_addresses([lan_address(), settings.host, "127.0.0.1", "::1"]))
    return Names(tuple(dns), tuple(ips))


def _addresses(candidates: Iterable[str | None]) -> Iterable[IpAddress]:
    for text in candidates:
        try:
            ip = ipaddress.ip_address(text or "")
        except ValueError:
            continue
        if not ip.is_unspecified:
            yield ip


def _now() -> datetime:
    return datetime.now(UTC)


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Edge Photo Search"),
            x509.NameAttribute(NameOID.COMMON_NAME, common[:64]),
        ]
    )


def make_ca(label: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new CA key and self-signed CA certificate that may sign server certificates only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"Edge Photo Search local CA ({label})")
    usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - timedelta(minutes=5))
        .not_valid_after(_now() + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, names: Names
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A server key and certificate for `names`, signed by the local CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names.dns[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - timedelta(minutes=5))
        .not_valid_after(_now() + timedelta(days=SERVER_DAYS))
        .add_extension(names.san(), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _write_pair(files: TlsFiles, key: ec.EllipticCurvePrivateKey, chain: bytes) -> None:
    write_private(files.key, _pem_key(key))
    write_private(files.cert, chain)


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_ca_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path} is not the box's CA key: run `edge-app tls regenerate`")
    return key


def _covers(cert: x509.Certificate, names: Names) -> bool:
    """Does `cert` still name every current name, and is it good for 30 more days?"""
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    has_dns, has_ips = (
        set(san.get_values_for_type(x509.DNSName)),
        set(san.get_values_for_type(x509.IPAddress)),
    )
    fresh = cert.not_valid_after_utc - _now() > timedelta(days=30)
    return fresh and set(names.dns) <= has_dns and set(names.ips) <= has_ips


def ensure_certificate(settings: Settings) -> TlsFiles:
    """The certificate to serve: the owner's as installed, else ours, created on first
    start and re-issued (same CA) when the box's names change or it nears expiry."""
    files = TlsFiles.of(settings)
    if files.source() == OWNER:
        return files
    names = box_names(settings)
    if files.source() == GENERATED and _covers(_load_cert(files.cert), names):
        return files
    if files.ca.is_file() and files.ca_key.is_file():
        ca_key, ca_cert = _load_ca_key(files.ca_key), _load_cert(files.ca)
    else:
        ca_key, ca_cert = make_ca(names.dns[0])
        write_private(files.ca_key, _pem_key(ca_key))
        files.ca.write_bytes(_pem(ca_cert))
    key, cert = issue_server_cert(ca_key, ca_cert, names)
    _write_pair(files, key, _pem(cert, ca_cert))
    write_private(files.source_file, GENERATED.encode())
    log.info("event=tls_certificate_issued names=%s", ",".join(map(str, names.dns + names.ips)))
    return files


def fingerprint(cert_path: Path) -> str:
    """SHA-256 of the served certificate, as browsers show it (``AB:CD:...``)."""
    digest = _load_cert(cert_path).fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def spki_sha256_b64(cert_path: Path) -> str:
    """Base64 SHA-256 of the certificate's public key (Chromium's SPKI pin format)."""
    import base64
    import hashlib

    spki = (
        _load_cert(cert_path)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def install_owner_certificate(
    settings: Settings, cert: Path, key: Path, chain: Path | None = None
) -> TlsFiles:
    """Serve the owner's certificate (e.g. from the school's CA) from the next start on.

    Checked first, so a wrong file changes nothing: PEM certificate and unencrypted key,
    the key belongs to the certificate, the certificate is valid now, the chain parses.
    """
    leaf = _read_certs(cert)[0]
    extra = _read_certs(chain) if chain is not None else []
    private = _read_key(key)
    if private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ConfigError(f"the key {key} does not belong to the certificate {cert}")
    if not leaf.not_valid_before_utc <= _now() <= leaf.not_valid_after_utc:
        raise ConfigError(
            f"{cert} is valid from {leaf.not_valid_before_utc:%Y-%m-%d} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d}, not now: get a current certificate"
        )
    files = TlsFiles.of(settings)
    write_private(files.key, key.read_bytes())
    write_private(files.cert, _pem(*_read_certs(cert), *extra))
    write_private(files.source_file, OWNER.encode())
    return files


def _read_certs(path: Path) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read a PEM certificate from {path}: {exc}") from exc
    return certs


def _read_key(path: Path) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except TypeError as exc:
        raise ConfigError(
            f"{path} is encrypted: decrypt it first (openssl pkey -in {path} -out plain.key)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read a PEM private key from {path}: {exc}") from exc


def use_generated(settings: Settings) -> TlsFiles:
    """Drop the owner's certificate and go back to the box's own (re-issued now)."""
    files = TlsFiles.of(settings)
    files.source_file.unlink(missing_ok=True)
    files.cert.unlink(missing_ok=True)
    return ensure_certificate(settings)
