"""A loopback endpoint with just enough of the Kubernetes API for `kubectl apply --dry-run=client`.

Client-side dry runs still ask the server for discovery, for the OpenAPI v3 schema that kubectl
validates against, and for the current object. Until the embedded API server exists, this serves
those three things for apiextensions.k8s.io/v1 only: discovery documents, the upstream OpenAPI
schema of CustomResourceDefinition (converted from the Kubernetes schemas kubernetes-validate ships),
and 404 for every object, so kubectl's own validation runs against the real upstream schema.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kubernetes_validate

KUBE_VERSION = "1.37.0"
GROUP = "apiextensions.k8s.io"
VERSION = "v1"


def upstream_definitions() -> dict[str, Any]:
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    path = root / f"v{KUBE_VERSION}-local-strict" / "_definitions.json"
    defs: dict[str, Any] = json.loads(path.read_text("utf-8"))["$defs"]
    return defs


def to_openapi(node: Any) -> Any:
    """JSON Schema as kubernetes-validate writes it -> OpenAPI v3 components, as kubectl reads them."""
    if isinstance(node, list):
        return [to_openapi(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: to_openapi(prop) for name, prop in value.items()}
        elif key == "$ref":
            out["$ref"] = "#/components/schemas/" + value.rsplit("/", 1)[-1]
        elif key == "type" and isinstance(value, list):
            kinds = [v for v in value if v != "null"]
            out["type"] = kinds[0]
        elif key in ("oneOf", "anyOf") and all(isinstance(v, dict) and "type" in v for v in value):
            continue  # int-or-string unions: kubectl expects x-kubernetes-int-or-string instead
        else:
            out[key] = to_openapi(value)
    if node.get("format") == "int-or-string":
        out.pop("type", None)
        out["x-kubernetes-int-or-string"] = True
    return out


def openapi_document() -> dict[str, Any]:
    schemas = {name: to_openapi(schema) for name, schema in upstream_definitions().items()}
    crd = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    schemas[crd]["x-kubernetes-group-version-kind"] = [
        {"group": GROUP, "version": VERSION, "kind": "CustomResourceDefinition"}
    ]
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v{KUBE_VERSION}"},
        "paths": {
            f"/apis/{GROUP}/{VERSION}/customresourcedefinitions/{{name}}": {
                "patch": {
                    "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                    "x-kubernetes-group-version-kind": {
                        "group": GROUP,
                        "version": VERSION,
                        "kind": "CustomResourceDefinition",
                    },
                }
            }
        },
        "components": {"schemas": schemas},
    }


DISCOVERY: dict[str, Any] = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": []},
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": GROUP,
                "versions": [{"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}],
                "preferredVersion": {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION},
            }
        ],
    },
    f"/apis/{GROUP}/{VERSION}": {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{GROUP}/{VERSION}",
        "resources": [
            {
                "name": "customresourcedefinitions",
                "singularName": "customresourcedefinition",
                "namespaced": False,
                "kind": "CustomResourceDefinition",
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                "shortNames": ["crd", "crds"],
            }
        ],
    },
    "/version": {"major": "1", "minor": "37", "gitVersion": f"v{KUBE_VERSION}", "platform": "linux/amd64"},
    "/openapi/v3": {
        "paths": {
            f"apis/{GROUP}/{VERSION}": {"serverRelativeURL": f"/openapi/v3/apis/{GROUP}/{VERSION}?hash=1"}
        }
    },
}


class Handler(BaseHTTPRequestHandler):
    openapi: bytes = b""
    requests: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def reply(self, code: int, body: dict[str, Any] | bytes) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.requests.append(f"GET {path}")
        if path in DISCOVERY:
            self.reply(200, DISCOVERY[path])
        elif path == f"/openapi/v3/apis/{GROUP}/{VERSION}":
            self.reply(200, self.openapi)
        elif path.startswith(f"/apis/{GROUP}/{VERSION}/customresourcedefinitions/"):
            name = path.rsplit("/", 1)[-1]
            self.reply(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": f'customresourcedefinitions.{GROUP} "{name}" not found',
                    "reason": "NotFound",
                    "details": {"name": name, "group": GROUP, "kind": "customresourcedefinitions"},
                    "code": 404,
                },
            )
        else:
            self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})


@contextmanager
def serve(tmp: Path) -> Iterator[tuple[Path, list[str]]]:
    """Start the endpoint on 127.0.0.1:0; yield a kubeconfig for it and the log of requests."""
    requests: list[str] = []
    handler = type(
        "BoundHandler", (Handler,), {"openapi": json.dumps(openapi_document()).encode(), "requests": requests}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "local", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}
                ],
                "contexts": [{"name": "local", "context": {"cluster": "local", "user": "local"}}],
                "users": [{"name": "local", "user": {}}],
                "current-context": "local",
            }
        )
    )
    try:
        yield kubeconfig, requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
