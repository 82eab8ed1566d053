"""The OpenAPI schemas of the built-in Kubernetes kinds the embedded API server serves.

The embedded API server needs them for three things: kubectl's OpenAPI v3 document (`apply`,
`explain`), the patch strategies of strategic merge patch and server-side apply (merge keys, list
types), and type validation of built-in objects. They come from the upstream schemas that
kubernetes-validate ships, reduced to the definitions reachable from the served kinds, with
descriptions removed, rewritten as OpenAPI v3 components and stored as one JSON file in the package,
so that the server does not need kubernetes-validate (a 100 MiB development dependency) at run time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codegen.crdfiles import REPO_ROOT

KUBE_VERSION = "1.34.0"
OUTPUT = REPO_ROOT / "operator" / "contour" / "apiserver" / "builtin_openapi.json"

# (group, version, kind) -> upstream definition name; the kinds the embedded API server serves.
SERVED_KINDS: dict[tuple[str, str, str], str] = {
    ("", "v1", "Namespace"): "io.k8s.api.core.v1.Namespace",
    ("", "v1", "Service"): "io.k8s.api.core.v1.Service",
    ("", "v1", "Endpoints"): "io.k8s.api.core.v1.Endpoints",
    ("", "v1", "Secret"): "io.k8s.api.core.v1.Secret",
    ("", "v1", "ConfigMap"): "io.k8s.api.core.v1.ConfigMap",
    ("", "v1", "ServiceAccount"): "io.k8s.api.core.v1.ServiceAccount",
    ("", "v1", "Event"): "io.k8s.api.core.v1.Event",
    ("", "v1", "Pod"): "io.k8s.api.core.v1.Pod",
    ("discovery.k8s.io", "v1", "EndpointSlice"): "io.k8s.api.discovery.v1.EndpointSlice",
    ("apps", "v1", "Deployment"): "io.k8s.api.apps.v1.Deployment",
    ("apps", "v1", "DaemonSet"): "io.k8s.api.apps.v1.DaemonSet",
    ("apps", "v1", "ReplicaSet"): "io.k8s.api.apps.v1.ReplicaSet",
    ("apps", "v1", "StatefulSet"): "io.k8s.api.apps.v1.StatefulSet",
    ("networking.k8s.io", "v1", "Ingress"): "io.k8s.api.networking.v1.Ingress",
    ("networking.k8s.io", "v1", "IngressClass"): "io.k8s.api.networking.v1.IngressClass",
    ("rbac.authorization.k8s.io", "v1", "Role"): "io.k8s.api.rbac.v1.Role",
    ("rbac.authorization.k8s.io", "v1", "RoleBinding"): "io.k8s.api.rbac.v1.RoleBinding",
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"): "io.k8s.api.rbac.v1.ClusterRole",
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"): "io.k8s.api.rbac.v1.ClusterRoleBinding",
    ("coordination.k8s.io", "v1", "Lease"): "io.k8s.api.coordination.v1.Lease",
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
    ): "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
}

# Definitions every document needs besides the kinds' own (errors, lists, options, patches).
ALWAYS = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
    "io.k8s.api.autoscaling.v1.Scale",
)

_DROPPED_KEYS = {"description", "additionalProperties", "$schema"}


def upstream_definitions() -> dict[str, Any]:
    import kubernetes_validate  # noqa: PLC0415 - a development dependency: only the generator reads it

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    path = root / f"v{KUBE_VERSION}-local" / "_definitions.json"
    defs: dict[str, Any] = json.loads(path.read_text("utf-8"))["$defs"]
    return defs


def to_openapi(node: Any) -> Any:
    """One JSON Schema node as kubernetes-validate writes it -> the OpenAPI v3 form kubectl reads."""
    if isinstance(node, list):
        return [to_openapi(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS and not (key == "additionalProperties" and isinstance(value, dict)):
            continue
        if key == "properties":
            out[key] = {name: to_openapi(prop) for name, prop in value.items()}
        elif key == "$ref":
            out["$ref"] = "#/components/schemas/" + value.rsplit("/", 1)[-1]
        elif key == "type" and isinstance(value, list):
            out["type"] = next(v for v in value if v != "null")
        elif key in ("oneOf", "anyOf") and all(isinstance(v, dict) and "type" in v for v in value):
            continue  # int-or-string unions: OpenAPI marks them x-kubernetes-int-or-string instead
        else:
            out[key] = to_openapi(value)
    if node.get("format") == "int-or-string":
        out.pop("type", None)
        out.pop("format", None)
        out["x-kubernetes-int-or-string"] = True
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        # A free-form object (FieldsV1, RawExtension): the real server stores whatever it holds.
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "$ref" in out and len(out) > 1:
        # OpenAPI v3 ignores siblings of $ref; Kubernetes wraps the reference in allOf instead.
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for value in node:
            found |= _references(value)
    return found


def render() -> str:
    defs = upstream_definitions()
    wanted = list(SERVED_KINDS.values()) + list(ALWAYS)
    seen: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        wanted.extend(sorted(_references(defs[name]) - seen))
    schemas = {name: to_openapi(defs[name]) for name in sorted(seen)}
    # The upstream OpenAPI document spells these two as strings with a format, not as unions.
    schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": "string", "format": "int-or-string"}
    schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {"type": "string"}
    # Definitions that hold any JSON (a CRD's default, example and nested schemas) have no schema of
    # their own; marking them keeps pruning and unknown-field checks out of them, as the real server does.
    for name, schema in schemas.items():
        if not schema:
            schemas[name] = {"x-kubernetes-preserve-unknown-fields": True}
    document = {
        "kubeVersion": KUBE_VERSION,
        "kinds": [
            {"group": g, "version": v, "kind": k, "schema": name}
            for (g, v, k), name in sorted(SERVED_KINDS.items())
        ],
        "schemas": schemas,
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def render_files() -> dict[Path, str]:
    return {OUTPUT: render()}
