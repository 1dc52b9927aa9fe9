"""Trusted certificates (PEM and DER, by SHA-1 thumbprint) and RBAC role assignments."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from tests.support.inprocess import READER, Env

V18 = {"Content-Type": "application/vnd.simplivity.v1.8+json"}
V116 = {"Content-Type": "application/vnd.simplivity.v1.16+json"}


def _certificate(common_name: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "ops@example.com"),
        ]
    )
    now = datetime(2026, 1, 1, tzinfo=UTC)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = (
        builder.serial_number(0xCA6D9FFD3685ECE2)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=90))
    )
    return builder.sign(key, hashes.SHA256())


def test_add_list_get_delete_pem(own_env: Env) -> None:
    headers = own_env.headers()
    cert = _certificate("vcenter.example.com")
    pem = cert.public_bytes(Encoding.PEM).decode()
    thumbprint = hashlib.sha1(cert.public_bytes(Encoding.DER)).hexdigest()
    resp = own_env.client.post(
        "/api/security/certificates", headers={**headers, **V18}, json={"certificate": pem}
    )
    assert resp.status_code == 201
    expected = {
        "certificate": pem.strip(),
        "hash": thumbprint,
        "subject": "EMAILADDRESS=ops@example.com,CN=vcenter.example.com,O=Example,C=US",
        "issuer": "EMAILADDRESS=ops@example.com,CN=vcenter.example.com,O=Example,C=US",
        "serialno": "ca6d9ffd3685ece2",
    }
    assert resp.json() == expected
    assert own_env.client.get("/api/security/certificates", headers=headers).json() == {
        "certificates": [expected]
    }
    # Thumbprints match case-insensitively: .NET clients send them in upper case.
    one = own_env.client.get(f"/api/security/certificates/{thumbprint.upper()}", headers=headers)
    assert (one.status_code, one.json()) == (200, expected)
    assert own_env.client.get("/api/certificates", headers=headers).json() == {"certificates": [expected]}
    gone = own_env.client.delete(f"/api/security/certificates/{thumbprint}", headers=headers)
    assert (gone.status_code, gone.json()) == (200, expected)
    missing = own_env.client.get(f"/api/security/certificates/{thumbprint}", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["message"] == f"Object type: certificate id: {thumbprint} could not be found"


def test_der_upload(own_env: Env) -> None:
    headers = own_env.headers()
    der = _certificate("der.example.com").public_bytes(Encoding.DER)
    resp = own_env.client.post(
        "/api/security/certificates/upload_der_encoded_certificate",
        headers=headers,
        files={"certificate": ("cert.der", der, "application/octet-stream")},
    )
    assert resp.status_code == 201
    assert resp.json()["hash"] == hashlib.sha1(der).hexdigest()


def test_malformed_certificates_change_nothing(own_env: Env) -> None:
    headers = own_env.headers()
    resp = own_env.client.post(
        "/api/security/certificates", headers={**headers, **V18}, json={"certificate": "not a certificate"}
    )
    assert resp.status_code == 400
    assert (
        resp.json()["message"] == "Invalid body: the certificate is not a valid PEM-encoded X.509 certificate"
    )
    resp = own_env.client.post(
        "/api/security/certificates/upload_der_encoded_certificate",
        headers=headers,
        files={"certificate": ("cert.der", b"\x30\x03junk", "application/octet-stream")},
    )
    assert resp.status_code == 400
    assert (
        resp.json()["message"] == "Invalid body: the certificate is not a valid DER-encoded X.509 certificate"
    )
    assert own_env.client.get("/api/security/certificates", headers=headers).json() == {"certificates": []}


def test_role_assignments(own_env: Env) -> None:
    headers = {**own_env.headers(), **V116}
    path = "/api/security/rbac/policies/role_assignments"
    assert own_env.client.get(path, headers=headers).json() == {"role_assignments": []}
    added = own_env.client.post(
        path, headers=headers, json={"role": "Administrator", "groups": ["ops", "dba"]}
    )
    assert (added.status_code, added.json()) == (201, {"role": "Administrator", "groups": ["ops", "dba"]})
    removed = own_env.client.post(
        f"{path}/remove", headers=headers, json={"role": "Administrator", "groups": ["ops"]}
    )
    assert (removed.status_code, removed.json()) == (201, {"role": "Administrator", "groups": ["dba"]})
    assert own_env.client.get(path, headers=headers).json() == {
        "role_assignments": [{"role": "Administrator", "groups": ["dba"]}]
    }
    bad = own_env.client.post(path, headers=headers, json={"role": "Backup", "groups": ["ops"]})
    assert (bad.status_code, bad.json()["message"]) == (
        400, "Invalid body: role: Value error, role must be one of Administrator, ReadOnly",
    )  # fmt: skip


def test_role_assignments_change_what_a_user_may_do(own_env: Env) -> None:
    own_env.runtime.auth.store.set_user_groups(READER[0], ["ops"])
    reader = own_env.headers(READER)
    admin = {**own_env.headers(), **V116}
    path = "/api/security/rbac/policies/role_assignments"
    write = {**reader, **V116}
    assert (
        own_env.client.post(path, headers=write, json={"role": "ReadOnly", "groups": ["x"]}).status_code
        == 403
    )
    own_env.client.post(path, headers=admin, json={"role": "Administrator", "groups": ["ops"]})
    assert (
        own_env.client.post(path, headers=write, json={"role": "ReadOnly", "groups": ["x"]}).status_code
        == 201
    )
    own_env.client.post(f"{path}/remove", headers=admin, json={"role": "Administrator", "groups": ["ops"]})
    assert (
        own_env.client.post(path, headers=write, json={"role": "ReadOnly", "groups": ["x"]}).status_code
        == 403
    )
