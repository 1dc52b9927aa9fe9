"""Request bodies: forgiving as the real one is (strings for numbers, unknown keys ignored, null defaults)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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
