"""The OpenAPI v3 documents kubectl reads: per group/version schemas, paths and their parameters.

kubectl 1.37 uses `/openapi/v3` for four things, and each shapes what is published here:

* `kubectl explain` finds a kind's schema in `components.schemas` by its
  `x-kubernetes-group-version-kind` extension and follows `$ref`/`allOf` to nested fields;
* client-side `kubectl apply` builds a strategic merge patch from the schema's `x-kubernetes-patch-*`
  extensions only when the kind's PATCH operation accepts `application/strategic-merge-patch+json`
  (built-in kinds); CRD kinds do not list it, so kubectl sends a JSON merge patch as with a real server;
* server-side field validation is used when the kind's PATCH operation declares a `fieldValidation`
  query parameter (otherwise kubectl would fall back to `/openapi/v2` for client-side validation);
* the index's `serverRelativeURL` carries a content hash: kubectl caches documents by URL, so a
  changed CRD must change the hash.

kubectl does not need `/openapi/v2` when these are present: it asks for it only as a fallback, and
treats its absence (404) as "no schema" (see `OPENAPI_V2_SERVED`).

CRD schemas are published the way apiextensions-apiserver publishes them: named
`io.projectcontour.v1.HTTPProxy` (group reversed), with `apiVersion`, `kind` and `metadata` (an ObjectMeta
reference) added, the GVK extension, and a `...List` schema beside it. Built-in kinds use the shipped
schemas (descriptions stripped). Documents are deterministic; `OpenAPIDocuments` caches each one until
the resource types of its group/version change.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from contour.apiserver.resources import ResourceRegistry, ResourceType
from contour.apiserver.schemas import builtin_components, builtin_definition_name, builtin_document

# kubectl 1.37 never needs /openapi/v2 when /openapi/v3 answers (verified by tests/unit/test_openapi.py).
OPENAPI_V2_SERVED = False

REF = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
PATCH = META + "Patch"

METADATA_DESCRIPTION = (
    "Standard object's metadata. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
API_VERSION_PROPERTY = {
    "type": "string",
    "description": "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject unrecognized values. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
}
KIND_PROPERTY = {
    "type": "string",
    "description": "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
}

_JSON_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_LIST_TYPES = (
    *_JSON_TYPES,
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
)
_CRD_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
)
_BUILTIN_PATCH_TYPES = (*_CRD_PATCH_TYPES, "application/strategic-merge-patch+json")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _query(name: str, kind: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": kind, "uniqueItems": True},
    }


_DRY_RUN = _query("dryRun", "string", "When present, indicates that modifications should not be persisted.")
_FIELD_MANAGER = _query(
    "fieldManager", "string", "A name associated with the actor or entity making changes."
)
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "string",
    "How the server handles unknown or duplicate fields in the request: Ignore, Warn or Strict.",
)
_FORCE = _query("force", "boolean", 'Force is going to "force" Apply requests. Only for apply patches.')
_PRETTY = _query("pretty", "string", "If 'true', then the output is pretty printed.")
_LIST_PARAMS = [
    _query("allowWatchBookmarks", "boolean", "Requests watch events with type BOOKMARK."),
    _query("continue", "string", "The continue option from a previous list call."),
    _query("fieldSelector", "string", "A selector to restrict the returned objects by their fields."),
    _query("labelSelector", "string", "A selector to restrict the returned objects by their labels."),
    _query("limit", "integer", "The maximum number of responses to return for a list call."),
    _query("resourceVersion", "string", "Constrains which resource versions the request may be served from."),
    _query("resourceVersionMatch", "string", "How resourceVersion is applied to list calls."),
    _query("sendInitialEvents", "boolean", "Start a watch with synthetic events for the current state."),
    _query("timeoutSeconds", "integer", "Timeout for the list/watch call."),
    _query("watch", "boolean", "Watch for changes to the described resources."),
]
_DELETE_PARAMS = [
    _DRY_RUN,
    _query("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted."),
    _query("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
    _query("propagationPolicy", "string", "Whether and how garbage collection will be performed."),
]


def _path_param(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "description": f"{name} of the resource",
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


def definition_name(rtype: ResourceType) -> str:
    """A kind's schema name: `io.projectcontour.v1.HTTPProxy`, `io.k8s.api.apps.v1.Deployment`."""
    if rtype.crd_schema is None:
        name = builtin_definition_name(rtype.group, rtype.version, rtype.kind)
        if name is not None:
            return name
    reversed_group = ".".join(reversed(rtype.group.split("."))) if rtype.group else "core"
    return f"{reversed_group}.{rtype.version}.{rtype.kind}"


def openapi_path(group: str, version: str) -> str:
    """The index key of a group/version: `api/v1` or `apis/GROUP/VERSION`."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operation_prefix(rtype: ResourceType) -> str:
    if not rtype.group:
        group = "core"
    elif rtype.crd_schema is None:
        group = rtype.group.removesuffix(".k8s.io")
    else:
        group = rtype.group
    words = group.replace("-", ".").split(".")
    camel = words[0] + "".join(w.capitalize() for w in words[1:])
    return camel + rtype.version.capitalize()


def _content(schema: Mapping[str, Any], types: Iterable[str]) -> dict[str, Any]:
    return {media: {"schema": dict(schema)} for media in types}


class _Operations:
    """Builds the operations of one resource type."""

    def __init__(self, rtype: ResourceType) -> None:
        self.rtype = rtype
        self.gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
        self.kind_ref = _ref(definition_name(rtype))
        self.list_ref = _ref(definition_name(rtype) + "List")
        self.tag = _operation_prefix(rtype)

    def op(
        self,
        action: str,
        verb: str,
        scope: str,
        description: str,
        *,
        parameters: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
        ok: dict[str, Any] | None = None,
        created: bool = False,
        list_response: bool = False,
        patch_types: Iterable[str] = (),
        subresource: str = "",
    ) -> dict[str, Any]:
        response_types = _LIST_TYPES if list_response else _JSON_TYPES
        responses: dict[str, Any] = {
            "200": {"description": "OK", "content": _content(ok or self.kind_ref, response_types)},
        }
        if created:
            responses["201"] = {
                "description": "Created",
                "content": _content(ok or self.kind_ref, _JSON_TYPES),
            }
        responses["401"] = {"description": "Unauthorized"}
        operation: dict[str, Any] = {
            "tags": [self.tag],
            "description": description,
            "operationId": f"{verb}{self.tag[0].upper()}{self.tag[1:]}{scope}{self.rtype.kind}{subresource}",
        }
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {"content": _content(body, ("*/*",)), "required": True}
        if patch_types:
            operation["requestBody"] = {"content": _content(_ref(PATCH), patch_types), "required": True}
        operation["responses"] = responses
        operation["x-kubernetes-action"] = action
        operation["x-kubernetes-group-version-kind"] = dict(self.gvk)
        return operation

    def paths(self, prefix: str) -> dict[str, dict[str, Any]]:
        rtype, kind, verbs = self.rtype, self.rtype.kind, set(self.rtype.verbs)
        scope = "Namespaced" if rtype.namespaced else ""
        base = (
            f"{prefix}/namespaces/{{namespace}}/{rtype.plural}"
            if rtype.namespaced
            else f"{prefix}/{rtype.plural}"
        )
        scope_params = [_path_param("namespace")] if rtype.namespaced else []
        patch_types = _CRD_PATCH_TYPES if rtype.crd_schema is not None else _BUILTIN_PATCH_TYPES
        writes = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
        out: dict[str, dict[str, Any]] = {}

        collection: dict[str, Any] = {}
        if "list" in verbs:
            collection["get"] = self.op(
                "list",
                "list",
                scope,
                f"list or watch objects of kind {kind}",
                parameters=_LIST_PARAMS,
                ok=self.list_ref,
                list_response=True,
            )
        if "create" in verbs:
            collection["post"] = self.op(
                "post",
                "create",
                scope,
                f"create a {kind}",
                parameters=writes,
                body=self.kind_ref,
                created=True,
            )
        if "deletecollection" in verbs:
            collection["delete"] = self.op(
                "deletecollection",
                "deleteCollection",
                scope,
                f"delete collection of {kind}",
                parameters=_DELETE_PARAMS + _LIST_PARAMS,
                body=_ref(DELETE_OPTIONS),
                ok=_ref(STATUS),
            )
        if collection:
            collection["parameters"] = [*scope_params, _PRETTY]
            out[base] = collection

        item: dict[str, Any] = {}
        if "get" in verbs:
            item["get"] = self.op("get", "read", scope, f"read the specified {kind}")
        if "update" in verbs:
            item["put"] = self.op(
                "put",
                "replace",
                scope,
                f"replace the specified {kind}",
                parameters=writes,
                body=self.kind_ref,
                created=True,
            )
        if "patch" in verbs:
            item["patch"] = self.op(
                "patch",
                "patch",
                scope,
                f"partially update the specified {kind}",
                parameters=[*writes, _FORCE],
                created=True,
                patch_types=patch_types,
            )
        if "delete" in verbs:
            item["delete"] = self.op(
                "delete",
                "delete",
                scope,
                f"delete a {kind}",
                parameters=_DELETE_PARAMS,
                body=_ref(DELETE_OPTIONS),
                ok=_ref(STATUS),
            )
        if item:
            item["parameters"] = [_path_param("name"), *scope_params, _PRETTY]
            out[f"{base}/{{name}}"] = item

        if rtype.has_status:
            status: dict[str, Any] = {
                "get": self.op(
                    "get", "read", scope, f"read status of the specified {kind}", subresource="Status"
                ),
                "put": self.op(
                    "put",
                    "replace",
                    scope,
                    f"replace status of the specified {kind}",
                    parameters=writes,
                    body=self.kind_ref,
                    created=True,
                    subresource="Status",
                ),
                "patch": self.op(
                    "patch",
                    "patch",
                    scope,
                    f"partially update status of the specified {kind}",
                    parameters=[*writes, _FORCE],
                    created=True,
                    patch_types=patch_types,
                    subresource="Status",
                ),
                "parameters": [_path_param("name"), *scope_params, _PRETTY],
            }
            out[f"{base}/{{name}}/status"] = status

        if rtype.namespaced and "list" in verbs:
            out[f"{prefix}/{rtype.plural}"] = {
                "get": self.op(
                    "list",
                    "list",
                    "",
                    f"list or watch objects of kind {kind}",
                    parameters=_LIST_PARAMS,
                    ok=self.list_ref,
                    list_response=True,
                    subresource="ForAllNamespaces",
                ),
                "parameters": [_PRETTY],
            }
        return out


def _gvk_extension(rtype: ResourceType, kind: str) -> list[dict[str, str]]:
    return [{"group": rtype.group, "kind": kind, "version": rtype.version}]


def _metadata_property(name: str) -> dict[str, Any]:
    return {"allOf": [_ref(name)], "description": METADATA_DESCRIPTION}


def _with_embedded_properties(node: Any) -> Any:
    """Give every `x-kubernetes-embedded-resource` object apiVersion, kind and metadata properties."""
    if isinstance(node, list):
        return [_with_embedded_properties(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _with_embedded_properties(value) for key, value in node.items()}
    if out.get("x-kubernetes-embedded-resource") is True:
        properties = dict(out.get("properties") or {})
        properties["apiVersion"] = dict(API_VERSION_PROPERTY)
        properties["kind"] = dict(KIND_PROPERTY)
        properties["metadata"] = _metadata_property(OBJECT_META)
        out["properties"] = properties
    return out


def crd_kind_schema(rtype: ResourceType) -> dict[str, Any]:
    """A CRD version's openAPIV3Schema as apiextensions-apiserver publishes it in /openapi/v3."""
    schema = _with_embedded_properties(copy.deepcopy(dict(rtype.crd_schema or {"type": "object"})))
    properties = dict(schema.get("properties") or {})
    properties["apiVersion"] = dict(API_VERSION_PROPERTY)
    properties["kind"] = dict(KIND_PROPERTY)
    properties["metadata"] = _metadata_property(OBJECT_META)
    schema["properties"] = properties
    schema.setdefault("type", "object")
    schema["x-kubernetes-group-version-kind"] = _gvk_extension(rtype, rtype.kind)
    return dict(schema)


def list_schema(rtype: ResourceType) -> dict[str, Any]:
    """`HTTPProxyList`, `DeploymentList`: items of the kind, ListMeta metadata."""
    return {
        "description": f"{rtype.list_kind} is a list of {rtype.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": dict(API_VERSION_PROPERTY),
            "items": {
                "type": "array",
                "description": f"List of {rtype.plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "items": _ref(definition_name(rtype)),
            },
            "kind": dict(KIND_PROPERTY),
            "metadata": _metadata_property(LIST_META),
        },
        "x-kubernetes-group-version-kind": _gvk_extension(rtype, rtype.list_kind),
    }


def _references(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF):
                found.add(value[len(REF) :])
            else:
                _references(value, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, found)


def _closure(roots: Iterable[str], own: Mapping[str, Any]) -> dict[str, Any]:
    """The named schemas reachable from `roots`, from `own` first, then from the built-in components."""
    builtin = builtin_components()
    out: dict[str, Any] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in out:
            continue
        schema = own.get(name, builtin.get(name))
        if schema is None:
            continue
        out[name] = schema
        found: set[str] = set()
        _references(schema, found)
        pending.extend(found - out.keys())
    return dict(sorted(out.items()))


def group_version_document(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any] | None:
    """`/openapi/v3/api/v1` or `/openapi/v3/apis/GROUP/VERSION`; None when nothing is served there."""
    types = sorted((t for t in registry if t.group == group and t.version == version), key=lambda t: t.plural)
    if not types:
        return None
    prefix = "/" + openapi_path(group, version)
    paths: dict[str, Any] = {}
    own: dict[str, Any] = {}
    roots = {OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS, PATCH}
    for rtype in types:
        paths.update(_Operations(rtype).paths(prefix))
        name = definition_name(rtype)
        if (
            rtype.crd_schema is not None
            or builtin_definition_name(rtype.group, rtype.version, rtype.kind) is None
        ):
            own[name] = crd_kind_schema(rtype)
        own[name + "List"] = list_schema(rtype)
        roots.update((name, name + "List"))
    kube_version = builtin_document().get("kubeVersion", "")
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v{kube_version}" if kube_version else "unversioned"},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": _closure(sorted(roots), own)},
    }


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The document as served: compact JSON with sorted keys, so equal documents are equal bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def content_hash(body: bytes) -> str:
    """The `hash=` of serverRelativeURL: uppercase hex SHA-512, as the real server writes it."""
    return hashlib.sha512(body).hexdigest().upper()


def index_document(hashes: Mapping[str, str]) -> dict[str, Any]:
    """`/openapi/v3`: {"paths": {"apis/G/V": {"serverRelativeURL": "/openapi/v3/apis/G/V?hash=H"}}}."""
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
            for path, digest in sorted(hashes.items())
        }
    }


class OpenAPIDocuments:
    """Serialised OpenAPI v3 documents, rebuilt only when the resource types of a group/version change.

    The registry replaces a CRD's `ResourceType` objects whenever the CRD changes, so a group/version
    whose type objects are the same ones as last time has the same document.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[tuple[ResourceType, ...], bytes, str]] = {}

    def _entry(self, registry: ResourceRegistry, group: str, version: str) -> tuple[bytes, str] | None:
        types = tuple(t for t in registry if t.group == group and t.version == version)
        if not types:
            self._cache.pop((group, version), None)
            return None
        cached = self._cache.get((group, version))
        if (
            cached is not None
            and len(cached[0]) == len(types)
            and all(a is b for a, b in zip(cached[0], types, strict=True))
        ):
            return cached[1], cached[2]
        document = group_version_document(registry, group, version)
        assert document is not None  # types is not empty
        body = canonical_bytes(document)
        digest = content_hash(body)
        self._cache[(group, version)] = (types, body, digest)
        return body, digest

    def document(self, registry: ResourceRegistry, group: str, version: str) -> bytes | None:
        """The JSON body for `/openapi/v3/api/v1` (group "") or `/openapi/v3/apis/GROUP/VERSION`."""
        entry = self._entry(registry, group, version)
        return entry[0] if entry is not None else None

    def index(self, registry: ResourceRegistry) -> dict[str, Any]:
        hashes: dict[str, str] = {}
        for group, versions in registry.groups().items():
            for version in versions:
                entry = self._entry(registry, group, version)
                if entry is not None:
                    hashes[openapi_path(group, version)] = entry[1]
        served = set(hashes)
        for key in [k for k in self._cache if openapi_path(*k) not in served]:
            del self._cache[key]
        return index_document(hashes)

    def for_path(self, registry: ResourceRegistry, path: str) -> bytes | None:
        """The body for a request path under `/openapi/v3` (the index included), or None for 404."""
        path = path.split("?", 1)[0].rstrip("/")
        if path == "/openapi/v3":
            return canonical_bytes(self.index(registry))
        parts = path.removeprefix("/openapi/v3/").split("/")
        if len(parts) == 2 and parts[0] == "api":
            return self.document(registry, "", parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return self.document(registry, parts[1], parts[2])
        return None
