"""Request bodies: forgiving as the real one is (strings for numbers, unknown keys ignored, null defaults)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

ConsistencyType = Literal["NONE", "DEFAULT", "VSS", "FAILEDVSS", "NOT_APPLICABLE"]
Id = Annotated[str, Field(min_length=1)]


class Body(BaseModel):
    """Every body ignores keys it does not know (the Go SDK sends misspelt ones)."""

    model_config = ConfigDict(extra="ignore")


class CloneVM(Body):
    virtual_machine_name: str
    app_consistent: bool | None = None
    consistency_type: ConsistencyType | None = None

    def consistency(self) -> str:
        """consistency_type overrides the deprecated app_consistent."""
        if self.consistency_type is not None:
            return self.consistency_type
        return "DEFAULT" if self.app_consistent else "NONE"


class MoveVM(Body):
    destination_datastore_id: Id
    virtual_machine_name: str | None = None


class SetPolicy(Body):
    policy_id: Id


class SetPolicyVMs(Body):
    virtual_machine_id: list[Id] | None = None
    policy_id: Id


def _not_a_boolean(value: object) -> object:
    # Minutes are Java ints there: a JSON boolean is not a number (a string of digits is).
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


Minutes = Annotated[int, BeforeValidator(_not_a_boolean), Field(ge=0, le=2**31 - 1)]


class BackupVM(Body):
    backup_name: str
    destination_id: str | None = None
    app_consistent: bool | None = None
    consistency_type: ConsistencyType | None = None
    retention: Minutes | None = None
    external_store_name: str | None = None

    def consistency(self) -> str:
        """consistency_type overrides app_consistent."""
        if self.consistency_type is not None:
            return self.consistency_type
        return "DEFAULT" if self.app_consistent else "NONE"


class CopyBackup(Body):
    destination_id: str | None = None
    external_store_name: str | None = None


class RenameBackup(Body):
    backup_name: str


class BackupIds(Body):
    backup_id: list[Id] | None = None
    cluster_group_id: str | None = None


class SetRetention(BackupIds):
    retention: Minutes
    force: bool | None = None
    forever: bool | None = None


class RestoreBackup(Body):
    virtual_machine_name: str | None = None
    datastore_id: str | None = None


class RestoreFiles(Body):
    virtual_machine_id: Id
    paths: list[str] | None = None
