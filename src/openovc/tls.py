"""The server's TLS material: a self-signed certificate made on first start, or the user's own files."""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
VALIDITY = timedelta(days=3650)

# Python's own default list: forward-secret AEAD and CBC-SHA2 suites for TLS 1.2, all offered by the
# SDK's PROTOCOL_TLSv1_2 client. Pinned because uvicorn's default was once "TLSv1", which leaves only
# SHA-1 suites that client refuses (handshake failure). TLS 1.3 suites are not governed by this string.
CIPHERS = "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"


class TlsConfigError(Exception):
    """The user's certificate options cannot be used."""


def _subject_alt_names(hostname: str) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    if hostname and hostname != "localhost":
        names.append(x509.DNSName(hostname))
    names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    return x509.SubjectAlternativeName(names)


def generate_self_signed(hostname: str, now: datetime | None = None) -> tuple[bytes, bytes]:
    """(certificate PEM, unencrypted PKCS#8 key PEM) for a new 10-year self-signed certificate."""
    now = now or datetime.now(UTC)
    # An ECDSA P-256 key: made in microseconds where an RSA 2048 one took tens of milliseconds of a fresh
    # start, and cheaper to sign each handshake with (the SDK opens a connection per request). Every
    # client accepts it: Python's ssl (the SDK's TLS 1.2 context), Go's crypto/tls, curl.
    key = ec.generate_private_key(ec.SECP256R1())
    # The real Virtual Controller presents a self-signed certificate named after the appliance.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, hostname or "localhost"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "OmniStack Virtual Controller"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenOVC"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # Backdated a little so a client whose clock lags slightly still accepts it.
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(_subject_alt_names(hostname), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    # A crash mid-write must never leave a truncated file that a later start would try to reuse.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)  # os.open's mode passes through the umask; the key must be exactly 0600
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_certificate(data_dir: Path) -> tuple[Path, Path]:
    """The data directory's cert.pem and key.pem, generated on the first call and reused afterwards."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = data_dir / CERT_FILE, data_dir / KEY_FILE
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    cert_pem, key_pem = generate_self_signed(socket.gethostname())
    # Key first: a certificate on disk then always has its key beside it.
    _write_atomically(key_path, key_pem, 0o600)
    _write_atomically(cert_path, cert_pem, 0o644)
    return cert_path, key_path


def resolve_certificate(data_dir: Path, cert: Path | None, key: Path | None) -> tuple[Path, Path]:
    """The user's own --cert/--key when given (both, existing), else the data directory's self-signed pair."""
    if cert is None and key is None:
        return ensure_certificate(data_dir)
    if cert is None or key is None:
        raise TlsConfigError("--cert and --key must be given together")
    for label, path in (("certificate", cert), ("key", key)):
        if not path.is_file():
            raise TlsConfigError(f"TLS {label} file not found: {path}")
    return cert, key


def server_ssl_kwargs(cert_path: Path, key_path: Path) -> dict[str, Any]:
    """uvicorn.Config keyword arguments serving TLS 1.2 and 1.3 from these files."""
    return {
        "ssl_certfile": str(cert_path),
        "ssl_keyfile": str(key_path),
        "ssl_version": ssl.PROTOCOL_TLS_SERVER,
        "ssl_ciphers": CIPHERS,
    }


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """The server-side context uvicorn builds from server_ssl_kwargs; raises TlsConfigError if unusable."""
    from uvicorn.config import create_ssl_context

    kwargs = server_ssl_kwargs(cert_path, key_path)
    try:
        return create_ssl_context(
            certfile=kwargs["ssl_certfile"],
            keyfile=kwargs["ssl_keyfile"],
            password=None,
            ssl_version=kwargs["ssl_version"],
            cert_reqs=ssl.CERT_NONE,
            ca_certs=None,
            ciphers=kwargs["ssl_ciphers"],
        )
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(f"cannot use certificate {cert_path} with key {key_path}: {exc}") from None
