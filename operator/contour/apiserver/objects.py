"""Object metadata rules every write follows: identity, timestamps, generation and status separation.

These are the parts of the real API server's per-kind strategies that Contour and its operator rely
on: uid and creationTimestamp are set once; generation starts at 1 and is bumped when anything other
than metadata and status changes; writes to the main resource keep the stored status and writes to the
status subresource change only status.
"""

from __future__ import annotations

import secrets
import string
import uuid
from datetime import UTC, datetime
from typing import Any

# metadata fields a client can never set or change
SYSTEM_FIELDS = ("uid", "creationTimestamp", "generation", "resourceVersion", "selfLink", "deletionTimestamp")


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars): several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {k: json_copy(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def now_rfc3339(clock: datetime | None = None) -> str:
    moment = clock or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    """`generateName` + 5 random characters from the real server's alphabet (no vowels, no 0/1/3)."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(5))


def spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything generation tracks: the object minus metadata, status, apiVersion and kind."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def merge_for_main_resource(old: dict[str, Any], new: dict[str, Any], has_status: bool) -> dict[str, Any]:
    """A write to the main resource: keep the stored status when the type has a status subresource."""
    out = dict(new)
    if has_status:
        if "status" in old:
            out["status"] = json_copy(old["status"])
        else:
            out.pop("status", None)
    return out


def merge_for_status(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A write to /status: only status comes from the request (metadata labels/annotations ignored too)."""
    out: dict[str, Any] = json_copy(old)
    if "status" in new:
        out["status"] = new["status"]
    else:
        out.pop("status", None)
    return out


def carry_system_metadata(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Copy the fields clients cannot change from the stored object into the incoming one (in place)."""
    meta_new = new.setdefault("metadata", {})
    meta_old = old.get("metadata", {})
    for key in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"):
        if key in meta_old:
            meta_new[key] = meta_old[key]
        else:
            meta_new.pop(key, None)


# Built-in resources whose strategy maintains metadata.generation; every custom resource does too.
GENERATION_TRACKED = frozenset(
    {
        "deployments.apps",
        "daemonsets.apps",
        "replicasets.apps",
        "statefulsets.apps",
        "ingresses.networking.k8s.io",
        "ingressclasses.networking.k8s.io",
        "customresourcedefinitions.apiextensions.k8s.io",
        "pods",
    }
)


def bump_generation(old: dict[str, Any], new: dict[str, Any]) -> None:
    meta = new["metadata"]
    generation = int(old.get("metadata", {}).get("generation", 1) or 1)
    meta["generation"] = generation + 1 if spec_of(old) != spec_of(new) else generation


def without_rv(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with resourceVersion and managedFields' timestamps removed, to detect no-op writes."""
    out = dict(obj)
    meta = dict(out.get("metadata", {}))
    meta.pop("resourceVersion", None)
    managed = meta.get("managedFields")
    if isinstance(managed, list):
        meta["managedFields"] = [
            {k: v for k, v in m.items() if k != "time"} for m in managed if isinstance(m, dict)
        ]
    out["metadata"] = meta
    return out


NAME_ALPHABET = string.ascii_lowercase + string.digits + "-."
