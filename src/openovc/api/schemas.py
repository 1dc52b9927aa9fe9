"""JSON Schemas of what the server sends, for the OpenAPI document: objects, envelopes, tasks, errors, reports."""

from __future__ import annotations

from typing import Any

from openovc.domain.catalog import BACKUPS, CERTIFICATES, CONSISTENCY_TYPES
from openovc.domain.fields import Collection, Field, Kind
from openovc.domain.metrics import CAPACITY_METRICS
from openovc.services import guest_credentials, hosts

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
# The API's time text (domain/timefmt.py); "NA" where an object has no such time.
TIME: Schema = {"type": "string", "pattern": r"^(NA|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)$"}
RATIO: Schema = {"type": "string", "description": "N.N : 1"}


def obj(properties: dict[str, Schema], required: tuple[str, ...] | bool = True) -> Schema:
    """An object with these properties, all of them required unless told otherwise; others allowed."""
    schema: Schema = {"type": "object", "properties": properties}
    names = list(properties) if required is True else list(required) if required else []
    if names:
        schema["required"] = names
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    """The schema, or null (a stored column the federation left empty)."""
    out = dict(schema)
    kind = out.get("type")
    out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


_IDS = array(STRING)
# HPE's spec types rw as the text "True"/"False"; the server sends a JSON boolean (see the report of issue 14).
_SHARE = obj({"address": STRING, "host": STRING, "rw": BOOLEAN})
RULE = obj({
    "id": STRING, "number": INTEGER, "destination_id": STRING, "destination_name": STRING,
    "external_store_name": STRING, "frequency": INTEGER, "retention": INTEGER, "days": STRING,
    "start_time": STRING, "end_time": STRING, "max_backups": INTEGER, "application_consistent": BOOLEAN,
    "consistency_type": {"type": "string", "enum": list(CONSISTENCY_TYPES)},
})  # fmt: skip

# The JSON-valued properties (Kind.JSON): what each holds, as HPE's spec 1.25 describes it.
JSON_FIELDS: dict[str, Schema] = {
    "cluster_group_ids": _IDS,
    "members": _IDS,
    "clusters": _IDS,
    "replica_set": array(obj({"id": STRING, "role": STRING})),
    "network_interfaces": array(
        obj(
            {
                "adapter_type": STRING, "device_number": STRING, "ipv4_addresses": _IDS,
                "mac_address": STRING, "mac_generation": STRING, "network_label": STRING,
            },
            required=False,
        )
    ),
    "shares": array(_SHARE),
    "rules": array(RULE),
    "infosight_configuration": obj(
        {
            "infosight_enabled": BOOLEAN, "infosight_registered": BOOLEAN, "infosight_proxy_url": STRING,
            "infosight_claim_tag": STRING, "infosight_tenant_name": STRING,
        },
        required=False,
    ),
}  # fmt: skip


def field_schema(coll: Collection[Any], fld: Field) -> Schema:
    """One property as `render.py` writes it: times and ratios always text, other columns may be null."""
    if fld.kind is Kind.TIME:
        return TIME
    if fld.kind is Kind.RATIO:
        return RATIO
    if fld.kind is Kind.JSON:
        schema = JSON_FIELDS.get(fld.name, {"type": ["object", "array"]})
    elif fld.kind is Kind.ENUM:
        schema = {"type": "string", "enum": list(fld.enum)}
    else:
        schema = {"type": fld.kind.value}
    return schema if fld.name == coll.key else nullable(schema)


def object_schema(coll: Collection[Any], complete: bool) -> Schema:
    """An object of the collection: `complete` when every field is sent (a single GET), else a listing's
    object (`fields=` and `show_optional_fields` choose which)."""
    props = {f.name: field_schema(coll, f) for f in coll.fields}
    return {**obj(props, required=complete), "title": coll.singular}


def envelope(coll: Collection[Any]) -> Schema:
    """A collection GET's page: offset and limit echoed, the count of every match, the objects."""
    page = obj({
        "offset": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 1},
        "count": {"type": "integer", "minimum": 0},
        coll.plural: array(object_schema(coll, complete=False)),
    })  # fmt: skip
    return {**page, "title": f"{coll.plural}_page"}


def single(coll: Collection[Any]) -> Schema:
    """A single-object GET's answer: every field of the object, under its singular name."""
    return {**obj({coll.singular: object_schema(coll, complete=True)}), "title": f"{coll.singular}_answer"}


def listing(coll: Collection[Any]) -> Schema:
    """Objects of a collection without the paging envelope, as some sub-resources answer."""
    return {**obj({coll.plural: array(object_schema(coll, complete=False))}), "title": f"{coll.plural}_list"}


TASK = {
    **obj(
        {
            "id": STRING,
            "state": {"type": "string", "enum": ["IN_PROGRESS", "COMPLETED", "FAILED"]},
            "affected_objects": array(obj({"object_id": STRING, "object_type": STRING})),
            "error_code": INTEGER,
            "start_time": TIME,
            "end_time": TIME,
            "percent_complete": {"type": "integer", "minimum": 0, "maximum": 100},
            "message": STRING,
            "error_message": STRING,
        },
        required=(
            "id",
            "state",
            "affected_objects",
            "error_code",
            "start_time",
            "end_time",
            "percent_complete",
        ),
    ),
    "title": "task",
}
TASK_ANSWER = {**obj({"task": TASK}), "title": "task_answer"}
# GET /_openovc/tasks lists tasks of any client, so each also says what it does (HPE's task has no such field).
LISTED_TASK = {
    **obj(
        {
            **TASK["properties"],
            "operation": {
                "type": "string",
                "description": "what the task does, as the listing's `operation` filter and task pacing name it",
                "example": "virtual_machine.clone",
            },
        },
        required=(*TASK["required"], "operation"),
    ),
    "title": "listed_task",
    "description": "A task as GET /api/tasks/{taskId} shows it, with the operation it performs",
}

ERROR = {
    **obj(
        {
            "exception": STRING,
            "path": STRING,
            "message": STRING,
            "timestamp": TIME,
            "status": {"type": "string", "pattern": r"^[1-5][0-9]{2}$"},
            "error_code": STRING,
        },
        required=("exception", "path", "message", "timestamp", "status"),
    ),
    "title": "error",
    "description": "The Virtual Controller's error body (Spring's, with its status as text)",
}
OAUTH_ERROR = {
    **obj({"error": STRING, "error_description": STRING}),
    "title": "oauth_error",
    "description": "An OAuth 2 error (RFC 6749 section 5.2)",
}

TOKEN = obj({
    "access_token": STRING,
    "token_type": {"type": "string", "enum": ["bearer"]},
    "expires_in": INTEGER,
    "scope": STRING,
    "updated_at": INTEGER,
})  # fmt: skip
TOKEN_REQUEST = obj(
    {
        "grant_type": {"type": "string", "enum": ["password", "emergency"]},
        "username": STRING,
        "password": {"type": "string", "format": "password"},
    }
)
VERSION = obj({"REST_API_Version": STRING, "SVTFS_Version": STRING})

_POINT_PAIR = obj({"reads": INTEGER, "writes": INTEGER, "date": TIME})
PERFORMANCE = obj({
    "metrics": array(obj({
        "name": {"type": "string", "enum": ["iops", "throughput", "latency"]},
        "data_points": array(_POINT_PAIR),
    }))
})  # fmt: skip
CAPACITY = obj({
    "metrics": array(obj({
        "name": {"type": "string", "enum": list(CAPACITY_METRICS)},
        "data_points": array(obj({"value": {"type": "number"}, "date": TIME})),
    }))
})  # fmt: skip


def _cluster_labels(role: str) -> dict[str, Schema]:
    stem = f"{role}_omnistack_cluster"
    return {f"{stem}_id": STRING, f"{stem}_name": STRING, f"{stem}_hypervisor_object_parent_id": STRING,
            f"{stem}_hypervisor_object_parent_name": STRING}  # fmt: skip


THROUGHPUT = obj({
    "start_time": TIME,
    "end_time": TIME,
    "cluster_throughput": array(obj({
        "date": TIME, **_cluster_labels("source"), **_cluster_labels("destination"),
        "average_throughput": INTEGER,
        "data": obj({
            "date_of_minimum": TIME, "minimum_throughput": INTEGER, "date_of_maximum": TIME,
            "maximum_throughput": INTEGER, "data_points": array(obj({"value": INTEGER, "date": TIME})),
        }),
    })),
})  # fmt: skip

SCHEDULE_REPORT = obj({
    name: {"type": "integer", "minimum": 0}
    for name in ("daily_backup_rate", "daily_backup_rate_limit", "backup_rate_level",
                 "projected_retained_backups", "retained_backups_limit", "projected_retained_backups_level")
})  # fmt: skip
IMPACT_REPORT = obj({"schedule_before_change": SCHEDULE_REPORT, "schedule_after_change": SCHEDULE_REPORT})

RETENTION_REFUSED = {
    **obj({"backups": array(object_schema(BACKUPS, complete=True))}),
    "title": "retention_refused",
    "description": "Refused without force: nothing changed; the backups the new retention would remove",
}

VIRTUAL_DISKS = obj({"virtual_disks": array(STRING)})
PARTITIONS = obj({
    "partitions": array(obj({
        "partition_number": INTEGER, "size": INTEGER, "disk_type": STRING, "mountable": BOOLEAN,
    }))
})  # fmt: skip
FILES = obj({
    "virtual_disk_partition_files": array(obj({
        "name": STRING, "directory": BOOLEAN, "symbolic_link": BOOLEAN, "size": INTEGER,
        "last_modified": TIME, "file_level_restore_available": BOOLEAN,
    }))
})  # fmt: skip
STANDARD_HOSTS = obj({
    "standard_hosts": array(obj({
        "hypervisor_object_id": nullable(STRING), "ip_address": nullable(STRING), "name": STRING,
        "shared": BOOLEAN, "virtual_machine_count": INTEGER,
    }))
})  # fmt: skip


def _status(key: str, *values: str) -> Schema:
    return obj({key: obj({"status": {"type": "string", "enum": list(values)}})})


SHUTDOWN_STATUS = _status(
    "shutdown_status", hosts.NONE, hosts.IN_PROGRESS, hosts.FORCE_IN_PROGRESS, hosts.SUCCESS, hosts.FAILURE
)
SHUTDOWN = _status(
    "shutdown_status", hosts.IN_PROGRESS, hosts.FORCE_IN_PROGRESS, hosts.SUCCESS, hosts.FAILURE
)
CANCELLATION = _status("cancellation_status", hosts.SUCCESS, hosts.FAILURE)
CREDENTIALS_VALIDATION = _status(
    "credentials_validation",
    guest_credentials.VALID,
    guest_credentials.INVALID,
    guest_credentials.POWERED_OFF,
)

_DEVICE = {"manufacturer": STRING, "model_number": STRING, "serial_number": STRING,
           "firmware_revision": STRING, "status": STRING}  # fmt: skip
_PHYSICAL_DRIVE = obj(
    {**_DEVICE, "slot": INTEGER, "drive_position": STRING, "enclosure": INTEGER, "capacity": INTEGER,
     "media_type": STRING, "health": STRING, "life_remaining": INTEGER, "percent_rebuilt": INTEGER,
     "additional_status": STRING, "wwn": STRING},
    required=False,
)  # fmt: skip
_DRIVE_SET = obj(
    {**_DEVICE, "drive_number": INTEGER, "health": STRING, "physical_drives": array(_PHYSICAL_DRIVE)},
    required=False,
)
_LOGICAL_DRIVE = obj(
    {**_DEVICE, "name": STRING, "capacity": INTEGER, "cache_state": STRING, "health": STRING,
     "drive_sets": array(_DRIVE_SET)},
    required=False,
)  # fmt: skip
HARDWARE = obj({
    "host": obj(
        {**_DEVICE, "name": STRING, "host_id": STRING,
         "raid_card": obj({**_DEVICE, "product_name": STRING, "has_bbu": STRING}, required=False),
         "battery": obj({**_DEVICE, "health": STRING, "percent_charged": INTEGER,
                         "manufacturing_date": STRING}, required=False),
         "accelerator_card": obj({**_DEVICE, "temperature": INTEGER}, required=False),
         "logical_drives": array(_LOGICAL_DRIVE)},
        required=("host_id",),
    )
})  # fmt: skip

RULE_ANSWER = obj({"rule": RULE})

TIME_ZONES = {"type": "array", "items": STRING, "minItems": 1}

CERTIFICATE = object_schema(CERTIFICATES, complete=True)
CERTIFICATE_LIST = obj({"certificates": array(CERTIFICATE)})
ROLE_ASSIGNMENT = obj({"role": STRING, "groups": array(STRING)})
ROLE_ASSIGNMENTS = obj({"role_assignments": array(ROLE_ASSIGNMENT)})

# Rule bodies: numbers may also come as strings of digits (`domain/rules.py`); these are the usual forms.
_RULE_FIELDS: dict[str, Schema] = {
    "frequency": {"type": "integer", "minimum": 1},
    "retention": {"type": "integer", "minimum": 1},
    "destination_id": STRING,
    "external_store_name": STRING,
    "days": {"type": "string", "example": "Mon,Wed,Fri"},
    "start_time": {"type": "string", "example": "08:00"},
    "end_time": {"type": "string", "example": "20:00"},
    "application_consistent": BOOLEAN,
    "consistency_type": {"type": "string", "enum": list(CONSISTENCY_TYPES)},
}
NEW_RULES = {**array(obj(_RULE_FIELDS, required=("frequency", "retention"))), "minItems": 1}
RULE_EDIT = obj(_RULE_FIELDS, required=False)
RULE_EDITS = {**array(obj({"rule_id": STRING, **_RULE_FIELDS}, required=("rule_id",))), "minItems": 1}


def answer(schema: Schema, status: int = 200, description: str = "OK") -> dict[str, Any]:
    """openapi_extra giving an operation's answer (a top-level "type" keeps FastAPI's default out)."""
    assert "type" in schema
    content = {"application/json": {"schema": schema}}
    return {"responses": {str(status): {"description": description, "content": content}}}


def body(schema: Schema, required: bool = True) -> dict[str, Any]:
    """openapi_extra giving a body the route reads itself (the media types are the route's own)."""
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}}


def merged(*extras: dict[str, Any]) -> dict[str, Any]:
    """Several openapi_extra parts as one: their parameters together, their responses together."""
    out: dict[str, Any] = {}
    for extra in extras:
        for key, value in extra.items():
            if key in out and isinstance(value, list):
                out[key] = [*out[key], *value]
            elif key in out and isinstance(value, dict):
                out[key] = {**out[key], **value}
            else:
                out[key] = value
    return out
