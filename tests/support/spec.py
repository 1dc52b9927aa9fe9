"""HPE's published Swagger definitions as JSON Schema, with the deviations real systems show."""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SPEC_FILE = "hpe-omnistack-rest-1.25.swagger.json"
SPEC_VARIABLE = "OPENOVC_HPE_SPEC"
# Where the shared reference material sits beside the checkout, when the variable does not say.
DEFAULT_SPEC_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / SPEC_FILE


def spec_path() -> Path | None:
    """HPE's spec: $OPENOVC_HPE_SPEC, else beside the checkout; None when the default is absent.

    A variable naming a file that is not there is a mistake to report, not a reason to skip.
    """
    given = os.environ.get(SPEC_VARIABLE)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            pytest.fail(f"{SPEC_VARIABLE}={given}: no such file (it should be HPE's {SPEC_FILE})")
        return path
    return DEFAULT_SPEC_PATH if DEFAULT_SPEC_PATH.is_file() else None


@cache
def _definitions() -> dict[str, Any]:
    path = spec_path()
    if path is None:
        pytest.skip(
            f"HPE's spec is not at {DEFAULT_SPEC_PATH}: response conformance not checked "
            f"(set {SPEC_VARIABLE} to the path of {SPEC_FILE} to check it)"
        )
    definitions: dict[str, Any] = copy.deepcopy(json.loads(path.read_text())["definitions"])
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
