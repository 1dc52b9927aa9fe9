"""The certificates the Virtual Controller trusts; storage implements it."""

from __future__ import annotations

from typing import Protocol

from openovc.domain.ports.federation import Record


class CertificateStore(Protocol):
    def certificate_list(self) -> list[Record]: ...

    def put_certificate(self, record: Record) -> None: ...

    def delete_certificate(self, thumbprint: str) -> bool: ...
