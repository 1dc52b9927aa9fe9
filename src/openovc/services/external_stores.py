"""External stores (StoreOnce): register, update credentials and unregister, as tasks.

Passwords are hashed before a task is queued, so neither the task's stored payload nor the store
ever holds one in clear; no answer ever returns one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from openovc.domain.catalog import EXTERNAL_STORES, OMNISTACK_CLUSTERS, POLICIES
from openovc.domain.errors import InvalidBody, TaskError
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.ports.operations import StoreCredentials
from openovc.domain.records import ExternalStore
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.auth import hash_password
from openovc.services.common import existing, fail_duplicate, refuse_duplicate_now, still_there, valid_name

STORE = "external_store"
STORE_TYPES = ("StoreOnceOnPrem", "StoreOnceCloud")


def _store(name: str) -> list[AffectedObject]:
    # External stores have no id: the SDK looks a new one up by name, so the name is its object id.
    return [AffectedObject(name, STORE)]


def _ipv4(address: str) -> str:
    try:
        return str(ipaddress.IPv4Address(address))
    except ValueError:
        raise InvalidBody(f"Invalid body: management_ip: {address!r} is not a valid IPv4 address") from None


def _port(field: str, value: int) -> int:
    if not 1 <= value <= 65535:
        raise InvalidBody(f"Invalid body: {field}: {value} is not a TCP port (1 to 65535)")
    return value


def _account(username: str, password: str) -> None:
    """Both parts of the StoreOnce client account are needed to reach the store."""
    for field, value in (("username", username), ("password", password)):
        if value == "":
            raise InvalidBody(f"Invalid body: {field}: must not be empty")


# ---------------------------------------------------------------------------------------- register


def register(
    reader: FederationReader,
    tasks: TaskEngine,
    *,
    name: str,
    management_ip: str,
    cluster_id: str,
    username: str,
    password: str,
    management_port: int,
    storage_port: int,
    store_type: str,
) -> Record:
    valid_name(STORE, name)
    existing(reader, OMNISTACK_CLUSTERS, cluster_id)
    payload = {
        "name": name,
        "management_ip": _ipv4(management_ip),
        "management_port": _port("management_port", management_port),
        "storage_port": _port("storage_port", storage_port),
        "cluster": cluster_id,
        "type": store_type,
        "username": username,
    }
    _account(username, password)
    refuse_duplicate_now(reader.get(EXTERNAL_STORES, name) is not None)
    payload["password_hash"] = hash_password(password)
    return tasks.submit("external_store.register", payload, [name, cluster_id])


def _run_register(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    cluster = still_there(txn, OMNISTACK_CLUSTERS, payload["cluster"])
    name = str(payload["name"])
    fail_duplicate(txn.get(EXTERNAL_STORES, name) is not None)
    txn.insert(
        EXTERNAL_STORES,
        {
            "name": name,
            "management_ip": payload["management_ip"],
            "management_port": payload["management_port"],
            "storage_port": payload["storage_port"],
            "omnistack_cluster_id": cluster["id"],
            "type": payload["type"],
            "cluster_group_ids": list(cluster["cluster_group_ids"] or []),
        },
    )
    txn.state().put_store_credentials(StoreCredentials(name, payload["username"], payload["password_hash"]))
    return _store(name)


# ------------------------------------------------------------------------------ update credentials


def update_credentials(
    reader: FederationReader,
    tasks: TaskEngine,
    *,
    name: str,
    username: str,
    password: str,
    management_ip: str | None,
) -> Record:
    existing(reader, EXTERNAL_STORES, name)
    ip = _ipv4(management_ip) if management_ip is not None else None
    _account(username, password)
    payload = {
        "name": name,
        "management_ip": ip,
        "username": username,
        "password_hash": hash_password(password),
    }
    return tasks.submit("external_store.update_credentials", payload, [name])


def _run_update_credentials(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    name = still_there(txn, EXTERNAL_STORES, payload["name"])["name"]
    if payload["management_ip"] is not None:
        txn.update(EXTERNAL_STORES, name, {"management_ip": payload["management_ip"]})
    txn.state().put_store_credentials(StoreCredentials(name, payload["username"], payload["password_hash"]))
    return _store(name)


# -------------------------------------------------------------------------------------- unregister


def _rules_using(finder: Finder, name: str) -> list[str]:
    """Names of the policies with a rule that backs up to the store."""
    used = []
    for policy in finder.find(POLICIES):
        rules = policy["rules"]
        if isinstance(rules, str):  # the reader hands JSON back as text
            rules = orjson.loads(rules)
        if any(r.get("external_store_name") == name for r in rules or []):
            used.append(str(policy["name"]))
    return used


def _in_use(finder: Finder, store: ExternalStore, cluster_id: str) -> tuple[int, str] | None:
    """Why the store cannot be unregistered now (error code and message), or None."""
    name = store["name"]
    if store["omnistack_cluster_id"] != cluster_id:
        return (
            Codes.INVALID_ARGUMENT,
            f"External store {name} is not registered with omnistack_cluster {cluster_id}.",
        )
    # Backups kept in the store do not hold it: HPE documents that they stay on the store, no
    # longer managed by the federation. Rules that would send new backups there do hold it.
    policies = _rules_using(finder, name)
    if policies:
        return (
            Codes.OBJECT_IN_USE,
            f"External store {name} is the destination of backup rules of policy {', '.join(policies)}; "
            "remove those rules before unregistering it.",
        )
    return None


def unregister(reader: FederationReader, tasks: TaskEngine, *, name: str, cluster_id: str) -> Record:
    store = existing(reader, EXTERNAL_STORES, name)
    existing(reader, OMNISTACK_CLUSTERS, cluster_id)
    refused = _in_use(reader, store, cluster_id)
    if refused is not None:
        raise TaskError(*refused)
    return tasks.submit(
        "external_store.unregister", {"name": name, "cluster": cluster_id}, [name, cluster_id]
    )


def _run_unregister(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    store = still_there(txn, EXTERNAL_STORES, payload["name"])
    refused = _in_use(txn, store, payload["cluster"])
    if refused is not None:
        raise TaskFailure(*refused)
    name = store["name"]
    txn.delete(EXTERNAL_STORES, name)
    txn.state().drop_store_credentials(name)
    return _store(name)


HANDLERS: dict[str, Handler] = {
    "external_store.register": _run_register,
    "external_store.update_credentials": _run_update_credentials,
    "external_store.unregister": _run_unregister,
}
