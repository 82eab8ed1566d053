"""The `/scale` subresource: an `autoscaling/v1` Scale view of a workload's replicas.

kube-apiserver serves it for Deployments, ReplicaSets and StatefulSets, and for custom resources whose
CRD declares `subresources.scale`; `kubectl scale` and autoscalers read and write replicas through it.
A Scale carries the parent's name, namespace, uid, resourceVersion and creationTimestamp, `spec.replicas`
from the parent's spec replicas path, and `status.replicas` and `status.selector` from its status (a
built-in workload's selector is its `spec.selector` printed as a selector string). A write sets the
parent's spec replicas and goes through the parent's own update: resourceVersion preconditions and 409
conflicts, validation, generation, managedFields (with subresource `scale`) and watch events are the
parent's. Errors about a missing or conflicting object name the parent resource, as upstream.
"""

from __future__ import annotations

from typing import Any

from contour.apiserver import errors, objects
from contour.apiserver.errors import Cause
from contour.apiserver.jsonpatch import apply_json_patch
from contour.apiserver.mergepatch import apply_merge_patch, check_merge_patch_body
from contour.apiserver.resources import ResourceType, ScaleSubresource
from contour.apiserver.schemas import Schema
from contour.apiserver.service import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    APIService,
    WriteOptions,
)
from contour.apiserver.strategicpatch import apply_strategic_merge_patch
from contour.apiserver.table_printers import selector_string

SCALE_GROUP = "autoscaling"
SCALE_VERSION = "v1"
SCALE_API_VERSION = f"{SCALE_GROUP}/{SCALE_VERSION}"
SCALE_KIND = "Scale"
SCALE_VERBS = ("get", "patch", "update")
# What table printing needs to know of a Scale; it is not a served resource of its own.
SCALE_TYPE = ResourceType(
    group=SCALE_GROUP,
    version=SCALE_VERSION,
    kind=SCALE_KIND,
    plural="scales",
    singular="scale",
    namespaced=True,
    verbs=SCALE_VERBS,
)
_SCALE_META = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
_INT32_MAX = 2**31 - 1
_ANY_OBJECT = Schema({"type": "object", "x-kubernetes-preserve-unknown-fields": True})


def _fields(path: str) -> list[str]:
    """A CRD scale path (`.spec.replicas`) as its field names; a CRD without one cannot be scaled."""
    fields = [part for part in path.split(".") if part]
    if not fields:
        raise errors.internal(f"the scale subresource has an invalid replicas path: {path!r}")
    return fields


def _nested(obj: Any, fields: list[str]) -> tuple[Any, bool]:
    for name in fields:
        if not isinstance(obj, dict) or name not in obj:
            return None, False
        obj = obj[name]
    return obj, True


def _int_at(obj: dict[str, Any], path: str) -> int:
    """unstructured.NestedInt64: 0 when absent; a value of another type is a server error upstream too."""
    value, found = _nested(obj, _fields(path))
    if not found or value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.internal(
            f"{path} accessor error: {value!r} is of the type {_go_type(value)}, expected int64"
        )
    return value


def _go_type(value: Any) -> str:
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _selector(obj: dict[str, Any], subresource: ScaleSubresource) -> str:
    if subresource.selector_from_spec:
        return selector_string(
            obj.get("spec", {}).get("selector") if isinstance(obj.get("spec"), dict) else None
        )
    if not subresource.label_selector_path:
        return ""
    value, found = _nested(obj, _fields(subresource.label_selector_path))
    if not found or value is None:
        return ""
    if not isinstance(value, str):
        raise errors.internal(
            f"{subresource.label_selector_path} accessor error: {value!r} is of the type "
            f"{_go_type(value)}, expected string"
        )
    return value


def scale_of(rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale of a stored object (fields and their order as kube-apiserver writes them)."""
    subresource = rtype.scale
    if subresource is None:
        raise errors.not_found(rtype.group, rtype.plural, obj.get("metadata", {}).get("name", ""))
    meta = obj.get("metadata", {})
    scale_meta = {key: meta[key] for key in _SCALE_META if meta.get(key)}
    replicas = _int_at(obj, subresource.spec_replicas_path)
    status: dict[str, Any] = {"replicas": _int_at(obj, subresource.status_replicas_path)}
    selector = _selector(obj, subresource)
    if selector:
        status["selector"] = selector
    return {
        "kind": SCALE_KIND,
        "apiVersion": SCALE_API_VERSION,
        "metadata": scale_meta,
        "spec": {"replicas": replicas} if replicas else {},  # `replicas,omitempty` in ScaleSpec
        "status": status,
    }


def _scale_body(rtype: ResourceType, body: Any, namespace: str, name: str) -> tuple[int, str]:
    """The replicas and resourceVersion a Scale write asks for; 400 or 422 for a body that is not one."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request is not a JSON object")
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if api_version and api_version != SCALE_API_VERSION:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({SCALE_API_VERSION})"
        )
    if kind and kind != SCALE_KIND:
        raise errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({SCALE_KIND})"
        )
    meta = body.get("metadata") or {}
    if not isinstance(meta, dict):
        raise errors.bad_request("metadata must be an object")
    if rtype.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if meta.get("name") and meta["name"] != name:
        raise errors.bad_request(
            f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
        )
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise errors.bad_request("Scale.spec must be an object")
    replicas = spec.get("replicas", 0)
    if replicas is None:
        replicas = 0
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas > _INT32_MAX:
        given = (
            f"number {replicas}"
            if isinstance(replicas, (int, float)) and not isinstance(replicas, bool)
            else (_go_type(replicas))
        )
        raise errors.bad_request(
            f'Scale in version "{SCALE_VERSION}" cannot be handled as a Scale: json: cannot unmarshal '
            f"{given} into Go struct field ScaleSpec.spec.replicas of type int32"
        )
    if replicas < 0:
        raise errors.invalid(
            SCALE_GROUP,
            SCALE_KIND,
            name,
            [
                Cause(
                    "FieldValueInvalid",
                    f"Invalid value: {replicas}: must be greater than or equal to 0",
                    "spec.replicas",
                )
            ],
        )
    resource_version = meta.get("resourceVersion") or ""
    return replicas, str(resource_version)


def _set(obj: dict[str, Any], path: str, value: int) -> None:
    fields = _fields(path)
    node = obj
    for name in fields[:-1]:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    node[fields[-1]] = value


class ScaleOperations:
    """GET, PUT and PATCH of `.../NAME/scale`, on top of the parent resource's operations."""

    def __init__(self, service: APIService) -> None:
        self.service = service

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        stored = self.service.get(rtype, namespace if rtype.namespaced else "", name)
        return scale_of(rtype, self.service.as_version(rtype, stored.obj))

    def update(
        self, rtype: ResourceType, namespace: str, name: str, body: Any, options: WriteOptions
    ) -> dict[str, Any]:
        ns = namespace if rtype.namespaced else ""
        replicas, resource_version = _scale_body(rtype, body, ns, name)
        subresource = rtype.scale
        if subresource is None:
            raise errors.not_found(rtype.group, rtype.plural, name)
        current = self.service.get(rtype, ns, name)
        parent: dict[str, Any] = objects.json_copy(self.service.as_version(rtype, current.obj))
        _set(parent, subresource.spec_replicas_path, replicas)
        # The Scale's resourceVersion, when given, is the parent's precondition (409 when stale).
        if resource_version:
            parent["metadata"]["resourceVersion"] = resource_version
        else:
            parent["metadata"].pop("resourceVersion", None)
        updated = self.service.update(rtype, ns, name, parent, options, subresource="scale")
        return scale_of(rtype, updated)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        *,
        content_type: str,
        patch: Any,
        options: WriteOptions,
    ) -> dict[str, Any]:
        live = self.get(rtype, namespace, name)
        patched: Any
        if content_type == JSON_PATCH:
            patched = apply_json_patch(live, patch)
        elif content_type == MERGE_PATCH:
            check_merge_patch_body(patch)
            patched = apply_merge_patch(live, patch)
        elif content_type == STRATEGIC_PATCH and not rtype.is_custom:
            patched = apply_strategic_merge_patch(live, patch, _ANY_OBJECT)
        else:
            raise errors.unsupported_media_type(
                "application/json-patch+json, application/merge-patch+json"
                + ("" if rtype.is_custom else ", application/strategic-merge-patch+json")
            )
        if not isinstance(patched, dict):
            raise errors.bad_request("the patch did not produce an object")
        meta = patched.get("metadata")
        # Like the parent's patch: only a resourceVersion the patch itself changes is a precondition.
        if isinstance(meta, dict) and meta.get("resourceVersion") == live["metadata"].get("resourceVersion"):
            meta.pop("resourceVersion", None)
        return self.update(rtype, namespace, name, patched, options)
