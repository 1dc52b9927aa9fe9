"""Trusted certificates: parsed from PEM or DER, keyed by SHA-1 thumbprint."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from openovc.domain.errors import InvalidBody, ObjectNotFound
from openovc.domain.ports.certificates import CertificateStore
from openovc.domain.ports.federation import Record

# Java's X500Principal names the e-mail attribute this way; clients compare subjects as text.
_NAMES = {NameOID.EMAIL_ADDRESS: "EMAILADDRESS"}


def describe(cert: x509.Certificate) -> Record:
    der = cert.public_bytes(Encoding.DER)
    return {
        "certificate": cert.public_bytes(Encoding.PEM).decode().strip(),
        "hash": hashlib.sha1(der).hexdigest(),
        "subject": cert.subject.rfc4514_string(_NAMES),
        "issuer": cert.issuer.rfc4514_string(_NAMES),
        "serialno": format(cert.serial_number, "x"),
    }


def parse_pem(text: str) -> x509.Certificate:
    body = text.strip()
    if "BEGIN CERTIFICATE" not in body:
        # The spec calls the field "Base64 encoded": accept bare base64 of the DER too.
        body = "-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----"
    try:
        return x509.load_pem_x509_certificate(body.encode())
    except ValueError:
        raise InvalidBody(
            "Invalid body: the certificate is not a valid PEM-encoded X.509 certificate"
        ) from None


def parse_der(data: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise InvalidBody(
            "Invalid body: the certificate is not a valid DER-encoded X.509 certificate"
        ) from None


def add(store: CertificateStore, cert: x509.Certificate) -> Record:
    record = describe(cert)
    store.put_certificate(record)
    return record


def find(store: CertificateStore, thumbprint: str) -> Record:
    wanted = thumbprint.strip().lower()
    for record in store.certificate_list():
        if str(record["hash"]).lower() == wanted:
            return record
    raise ObjectNotFound("certificate", thumbprint)


def delete(store: CertificateStore, thumbprint: str) -> Record:
    record = find(store, thumbprint)
    store.delete_certificate(str(record["hash"]))
    return record
