"""Naming rules: what names each kind of object accepts, and which must be unique."""

from __future__ import annotations

import unicodedata

# vSphere's limits (VM 80, datastore 42 characters); OmniStack's own objects allow 64/128.
MAX_LENGTH = {
    "virtual_machine": 80,
    "datastore": 42,
    "policy": 64,
    "backup": 128,
    "cluster_group": 64,
    "external_store": 64,
}
# Characters vCenter inventory paths and the OmniStack file system refuse.
FORBIDDEN = {
    "virtual_machine": "/\\%",
    "datastore": '/\\%:*?"<>|',
    "policy": "/\\%",
    "backup": "/\\%",
    "cluster_group": "/\\%",
    "external_store": '/\\%:*?"<>| ',
}


def name_problem(kind: str, name: str) -> str | None:
    """Why `name` is not a valid name for a `kind`, or None when it is."""
    label = kind.replace("_", " ")
    if name.strip() == "":
        return f"The {label} name must not be empty."
    if name != name.strip():
        return f"The {label} name must not begin or end with white space."
    limit = MAX_LENGTH[kind]
    if len(name) > limit:
        return f"The {label} name must be at most {limit} characters long."
    bad = sorted({c for c in name if c in FORBIDDEN[kind] or unicodedata.category(c).startswith("C")})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"The {label} name contains characters that are not allowed: {shown}."
    return None
