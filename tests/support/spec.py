"""HPE's published Swagger definitions as JSON Schema, with the deviations real systems show."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "reference"
    / "hpe-omnistack-rest-1.25.swagger.json"
)


@cache
def _definitions() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"HPE's spec is not at {SPEC_PATH} (../shared is absent): conformance not checked")
    definitions: dict[str, Any] = copy.deepcopy(json.loads(SPEC_PATH.read_text())["definitions"])
    # Real systems and every SDK send `rw` as a JSON boolean (reference 4.4, 10.11).
    definitions["share"]["properties"]["rw"] = {"type": "boolean"}
    # Hardware collections are arrays and logical drive names strings (reference 4.15).
    for parent, child in (("host_hardware", "logical_drives"), ("logical_drive", "drive_sets"),
                          ("drive_set", "physical_drives")):  # fmt: skip
        prop = definitions[parent]["properties"][child]
        definitions[parent]["properties"][child] = {"type": "array", "items": prop}
    definitions["logical_drive"]["properties"]["name"] = {"type": "string"}
    # A backup's virtual disks are names, not objects (reference 3.1).
    definitions["BackupVirtualDiskMO"]["properties"]["virtual_disks"]["items"] = {"type": "string"}
    # The spec types a capacity sample's value as "object"; real systems send numbers (reference 8.2).
    definitions["MetricsRawDataMO"]["properties"]["value"] = {"type": "number"}
    return definitions


def validate(definition: str, instance: Any, *, relax: tuple[str, ...] = ()) -> None:
    """Validate against a definition; `relax` names required properties a list may leave out."""
    definitions = _definitions()
    schema = dict(definitions[definition])
    if relax:
        schema["required"] = [r for r in schema.get("required", []) if r not in relax]
    schema["definitions"] = definitions
    jsonschema.Draft4Validator(schema).validate(instance)
