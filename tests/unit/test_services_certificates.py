"""services/certificates.py against an in-memory CertificateStore: parse, add, find and delete by thumbprint."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from openovc.domain.catalog import CERTIFICATES
from openovc.domain.errors import InvalidBody, ObjectNotFound
from openovc.services import certificates
from tests.support.fakes import MemoryFederation

SUBJECT = "EMAILADDRESS=ops@example.com,CN={},O=Example,C=US"


def _certificate(common_name: str, serial: int = 0xCA6D9FFD3685ECE2) -> x509.Certificate:
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
    builder = builder.serial_number(serial).not_valid_before(now).not_valid_after(now + timedelta(days=90))
    return builder.sign(key, hashes.SHA256())


@pytest.fixture
def store() -> MemoryFederation:
    return MemoryFederation()


def test_add_find_delete_by_thumbprint(store: MemoryFederation) -> None:
    cert = _certificate("vcenter.example.com")
    pem = cert.public_bytes(Encoding.PEM).decode()
    thumbprint = hashlib.sha1(cert.public_bytes(Encoding.DER)).hexdigest()
    expected = {
        "certificate": pem.strip(),
        "hash": thumbprint,
        "subject": SUBJECT.format("vcenter.example.com"),
        "issuer": SUBJECT.format("vcenter.example.com"),
        "serialno": "ca6d9ffd3685ece2",
    }
    assert certificates.add(store, certificates.parse_pem(pem)) == expected
    assert store.certificate_list() == [expected]
    # Thumbprints match whatever their case and surrounding blanks (.NET clients send upper case).
    assert certificates.find(store, thumbprint) == expected
    assert certificates.find(store, f" {thumbprint.upper()} ") == expected
    assert store.get(CERTIFICATES, thumbprint.upper()) == expected  # the reader's lookup too
    assert certificates.delete(store, thumbprint.upper()) == expected
    assert store.certificate_list() == []
    with pytest.raises(ObjectNotFound) as missing:
        certificates.find(store, thumbprint)
    assert missing.value.message == f"Object type: certificate id: {thumbprint} could not be found"
    with pytest.raises(ObjectNotFound):
        certificates.delete(store, thumbprint)


def test_adding_the_same_certificate_again_keeps_one(store: MemoryFederation) -> None:
    cert = _certificate("twice.example.com")
    first = certificates.add(store, cert)
    assert certificates.add(store, certificates.parse_der(cert.public_bytes(Encoding.DER))) == first
    other = certificates.add(store, _certificate("other.example.com", serial=7))
    assert other["serialno"] == "7"
    assert store.certificate_list() == sorted([first, other], key=lambda c: str(c["hash"]))


def test_bare_base64_of_the_der_is_a_pem_too() -> None:
    cert = _certificate("bare.example.com")
    bare = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()
    assert certificates.parse_pem(f"\n{bare}\n") == cert
    assert certificates.parse_der(cert.public_bytes(Encoding.DER)) == cert


@pytest.mark.parametrize(
    "text", ["not a certificate", "", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]
)
def test_malformed_pem(store: MemoryFederation, text: str) -> None:
    with pytest.raises(InvalidBody) as error:
        certificates.parse_pem(text)
    assert error.value.message == "Invalid body: the certificate is not a valid PEM-encoded X.509 certificate"
    assert store.certificate_list() == []


@pytest.mark.parametrize("data", [b"\x30\x03junk", b""])
def test_malformed_der(data: bytes) -> None:
    with pytest.raises(InvalidBody) as error:
        certificates.parse_der(data)
    assert error.value.message == "Invalid body: the certificate is not a valid DER-encoded X.509 certificate"
