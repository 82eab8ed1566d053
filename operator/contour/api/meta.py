"""Hand-written Kubernetes object metadata and the base class every generated model derives from.

ObjectMeta is not part of any CRD schema (the API server owns it), so the generator points every
`metadata` field here instead of emitting a bare dict. The base class fixes how every model parses
and dumps: strict types as the API server checks them, unknown fields refused, camelCase aliases on
the wire, and `dump()` with `by_alias=True, exclude_unset=True` so a model written back to the API
never sends a field the user did not set (a `null` in a merge patch would delete it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class APIModel(BaseModel):
    """The base of every API model: strict, closed, camelCase on the wire."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        strict=True,
        validate_default=False,
    )

    def dump(self) -> dict[str, Any]:
        """The wire form: aliases, and only the fields that were set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class OwnerReference(APIModel):
    """Names an object that owns this one; garbage collection deletes dependents with their owner."""

    api_version: Annotated[str, Field(alias="apiVersion")]
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: Annotated[bool | None, Field(alias="blockOwnerDeletion")] = None


class ManagedFieldsEntry(APIModel):
    """Which manager owns which fields, as server-side apply records it."""

    manager: str | None = None
    operation: str | None = None
    api_version: Annotated[str | None, Field(alias="apiVersion")] = None
    time: str | None = None
    fields_type: Annotated[str | None, Field(alias="fieldsType")] = None
    fields_v1: Annotated[dict[str, Any] | None, Field(alias="fieldsV1")] = None
    subresource: str | None = None


class ObjectMeta(APIModel):
    """The metadata every persisted Kubernetes object carries."""

    name: str | None = None
    generate_name: Annotated[str | None, Field(alias="generateName")] = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: Annotated[str | None, Field(alias="resourceVersion")] = None
    generation: int | None = None
    creation_timestamp: Annotated[str | None, Field(alias="creationTimestamp")] = None
    deletion_timestamp: Annotated[str | None, Field(alias="deletionTimestamp")] = None
    deletion_grace_period_seconds: Annotated[int | None, Field(alias="deletionGracePeriodSeconds")] = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: Annotated[list[OwnerReference] | None, Field(alias="ownerReferences")] = None
    finalizers: list[str] | None = None
    managed_fields: Annotated[list[ManagedFieldsEntry] | None, Field(alias="managedFields")] = None
    self_link: Annotated[str | None, Field(alias="selfLink")] = None


@dataclass(frozen=True)
class Resource:
    """How the API serves one kind at one version: enough to route, list and parse it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    model: type[APIModel]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version
