"""The self-signed certificate: made once, reused, and serving both TLS 1.2 (the SDK's) and TLS 1.3."""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from openovc.tls import (
    TlsConfigError,
    ensure_certificate,
    resolve_certificate,
    server_context,
    server_ssl_kwargs,
)


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_certificate_is_generated_once_and_reused(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path / "data")
    assert (cert_path.name, key_path.name) == ("cert.pem", "key.pem")
    assert cert_path.parent == key_path.parent == tmp_path / "data"
    first = (cert_path.read_bytes(), key_path.read_bytes())
    again = ensure_certificate(tmp_path / "data")
    assert again == (cert_path, key_path)
    assert (cert_path.read_bytes(), key_path.read_bytes()) == first


def test_missing_half_of_the_pair_regenerates_both(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path)
    old_cert = cert_path.read_bytes()
    cert_path.unlink()
    ensure_certificate(tmp_path)
    assert cert_path.read_bytes() != old_cert
    server_context(cert_path, key_path)  # the new certificate matches the new key


def test_certificate_names_localhost_loopback_and_this_machine(tmp_path: Path) -> None:
    cert = _load(ensure_certificate(tmp_path)[0])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    dns = san.get_values_for_type(x509.DNSName)
    assert "localhost" in dns
    assert socket.gethostname() in dns
    assert cert.subject == cert.issuer  # self-signed


def test_certificate_is_valid_for_ten_years(tmp_path: Path) -> None:
    cert = _load(ensure_certificate(tmp_path)[0])
    now = datetime.now(UTC)
    assert cert.not_valid_before_utc <= now
    assert cert.not_valid_after_utc - now > timedelta(days=3640)


def test_key_file_is_private(tmp_path: Path) -> None:
    _, key_path = ensure_certificate(tmp_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_user_files_are_used_as_given(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path / "elsewhere")
    assert resolve_certificate(tmp_path / "data", cert_path, key_path) == (cert_path, key_path)
    assert not (tmp_path / "data" / "cert.pem").exists()


def test_cert_without_key_is_refused(tmp_path: Path) -> None:
    cert_path, _ = ensure_certificate(tmp_path)
    for cert, key in ((cert_path, None), (None, cert_path)):
        with pytest.raises(TlsConfigError) as refused:
            resolve_certificate(tmp_path, cert, key)
        assert str(refused.value) == "--cert and --key must be given together"


def test_missing_user_file_is_refused(tmp_path: Path) -> None:
    cert_path, _ = ensure_certificate(tmp_path)
    missing = tmp_path / "nope.pem"
    with pytest.raises(TlsConfigError) as refused:
        resolve_certificate(tmp_path, cert_path, missing)
    assert str(refused.value) == f"TLS key file not found: {missing}"


def test_mismatched_key_is_refused(tmp_path: Path) -> None:
    cert_path, _ = ensure_certificate(tmp_path / "a")
    _, other_key = ensure_certificate(tmp_path / "b")
    with pytest.raises(TlsConfigError) as refused:
        server_context(cert_path, other_key)
    assert str(refused.value).startswith(f"cannot use certificate {cert_path} with key {other_key}: ")


def test_uvicorn_kwargs_name_the_files(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path)
    kwargs = server_ssl_kwargs(cert_path, key_path)
    assert kwargs["ssl_certfile"] == str(cert_path)
    assert kwargs["ssl_keyfile"] == str(key_path)


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> tuple[str | None, bytes]:
    """One TLS connection to a throwaway loopback server; the negotiated version and what it sent."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello")
        except (OSError, ssl.SSLError) as exc:
            failures.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            return tls.version(), tls.recv(5)
    finally:
        thread.join(10)
        listener.close()


def _client(version: ssl.TLSVersion, cafile: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = version
    # Verifying against the certificate itself also proves the SAN matches 127.0.0.1.
    ctx.load_verify_locations(cafile)
    return ctx


@pytest.mark.parametrize(
    ("version", "expected"), [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")]
)
def test_server_accepts_tls_1_2_and_1_3(tmp_path: Path, version: ssl.TLSVersion, expected: str) -> None:
    cert_path, key_path = ensure_certificate(tmp_path)
    negotiated, data = _handshake(server_context(cert_path, key_path), _client(version, cert_path))
    assert (negotiated, data) == (expected, b"hello")


def test_server_accepts_the_sdks_own_client_context(tmp_path: Path) -> None:
    """simplivity.connection builds exactly this: PROTOCOL_TLSv1_2 and no certificate check."""
    cert_path, key_path = ensure_certificate(tmp_path)
    sdk = ssl.SSLContext(ssl.PROTOCOL_TLSv1_2)
    sdk.verify_mode = ssl.CERT_NONE
    assert _handshake(server_context(cert_path, key_path), sdk) == ("TLSv1.2", b"hello")


def test_the_key_is_ecdsa_p256_and_the_sdk_negotiates_an_ecdsa_suite(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path)
    public = _load(cert_path).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    sdk = ssl.SSLContext(ssl.PROTOCOL_TLSv1_2)
    sdk.verify_mode = ssl.CERT_NONE
    listener = socket.create_server(("127.0.0.1", 0))
    server = server_context(cert_path, key_path)

    def serve() -> None:
        conn, _ = listener.accept()
        with contextlib.suppress(OSError), server.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=10) as raw,
            sdk.wrap_socket(raw) as tls,
        ):
            cipher = tls.cipher()
            assert tls.recv(5) == b"hello"
    finally:
        thread.join(10)
        listener.close()
    assert cipher is not None
    assert cipher[0].startswith("ECDHE-ECDSA-")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_reaches_the_self_signed_server(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path)
    context = server_context(cert_path, key_path)

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        done = subprocess.run(
            ["curl", "-sk", "--max-time", "10", f"https://127.0.0.1:{port}/"],
            capture_output=True,
            check=False,
        )
    finally:
        thread.join(10)
        server.server_close()
    assert (done.returncode, done.stdout) == (0, b"hello")
