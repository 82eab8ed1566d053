"""A loopback HTTP endpoint serving the embedded API server's documents, so real kubectl can read them.

It serves discovery (`contour.apiserver.discovery`), OpenAPI v3 (`contour.apiserver.openapi`), `/version`,
and a fixed set of canned objects: GET returns an object (or the Table `contour.apiserver.table`
builds from it when kubectl asks for one), PATCH records the patch and returns the object unchanged,
everything else is a 404 Status. Every request is logged, so tests can check what kubectl asked for.
It stands in for the real server until the lead's HTTP layer serves the same builders.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from contour.apiserver.discovery import discovery_document
from contour.apiserver.openapi import OpenAPIDocuments
from contour.apiserver.resources import ResourceRegistry, ResourceType
from contour.apiserver.table import object_table, table_content_type, table_version

REPO_ROOT = Path(__file__).resolve().parents[2]


@cache
def _crds_json() -> str:
    out: list[dict[str, Any]] = []
    for path in sorted((REPO_ROOT / "crds").glob("*.yaml")):
        out.extend(doc for doc in yaml.load_all(path.read_text("utf-8"), Loader=yaml.CSafeLoader) if doc)
    return json.dumps(out)


def repo_crds() -> list[dict[str, Any]]:
    """Every CustomResourceDefinition in crds/, in file order (a fresh copy on every call)."""
    crds: list[dict[str, Any]] = json.loads(_crds_json())
    return crds


def registry_with_repo_crds() -> ResourceRegistry:
    registry = ResourceRegistry()
    for crd in repo_crds():
        registry.set_crd(crd)
    return registry


def sample(file: str, name: str) -> dict[str, Any]:
    """The object called `name` in config/samples/FILE."""
    for doc in yaml.safe_load_all((REPO_ROOT / "config" / "samples" / file).read_text("utf-8")):
        if doc and doc.get("metadata", {}).get("name") == name:
            found: dict[str, Any] = doc
            return found
    raise LookupError(f"{name} not in {file}")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    accept: str
    content_type: str
    body: bytes = b""


@dataclass
class DocServer:
    registry: ResourceRegistry
    objects: dict[str, dict[str, Any]]  # request path -> object
    kubeconfig: Path
    requests: list[Request] = field(default_factory=list)

    def paths_requested(self) -> list[str]:
        return [r.path for r in self.requests]


def object_path(rtype: ResourceType, name: str, namespace: str = "") -> str:
    prefix = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
    scope = f"/namespaces/{namespace}" if rtype.namespaced else ""
    return f"{prefix}{scope}/{rtype.plural}/{name}"


def _not_found(path: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"the server could not find the requested resource ({path})",
        "reason": "NotFound",
        "code": 404,
    }


def _handler(server: DocServer) -> type[BaseHTTPRequestHandler]:
    documents = OpenAPIDocuments()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet: requests are recorded in `server.requests`."""

        def reply(
            self, code: int, body: Mapping[str, Any] | bytes, content_type: str = "application/json"
        ) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def record(self) -> Request:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=url.path,
                query=parse_qs(url.query),
                accept=self.headers.get("Accept", ""),
                content_type=self.headers.get("Content-Type", ""),
                body=self.rfile.read(length) if length else b"",
            )
            with lock:
                server.requests.append(request)
            return request

        def do_GET(self) -> None:
            request = self.record()
            path = request.path.rstrip("/") or "/"
            if path == "/version":
                self.reply(
                    200, {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"}
                )
                return
            if path == "/openapi/v3" or path.startswith("/openapi/v3/"):
                with lock:
                    body = documents.for_path(server.registry, path)
                if body is None:
                    self.reply(404, _not_found(path))
                else:
                    self.reply(200, body)
                return
            found = discovery_document(server.registry, path, request.accept)
            if found is not None:
                self.reply(200, found[0], found[1])
                return
            obj = server.objects.get(path)
            if obj is None:
                self.reply(404, _not_found(path))
                return
            version = table_version(request.accept)
            if version is None:
                self.reply(200, obj)
                return
            rtype = server.registry.by_kind(obj["apiVersion"], obj["kind"])
            assert rtype is not None
            include = request.query.get("includeObject", [""])[0]
            table = object_table(rtype, obj, now=datetime.now(UTC), include_object=include, version=version)
            self.reply(200, table, table_content_type(version))

        def do_PATCH(self) -> None:
            request = self.record()
            obj = server.objects.get(request.path)
            if obj is None:
                self.reply(404, _not_found(request.path))
            else:
                self.reply(200, obj)

        def do_POST(self) -> None:
            request = self.record()
            self.reply(404, _not_found(request.path))

        def do_PUT(self) -> None:
            self.do_POST()

        def do_DELETE(self) -> None:
            self.do_POST()

    return Handler


def write_kubeconfig(path: Path, server_url: str) -> None:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": {"server": server_url}}],
                "contexts": [{"name": "local", "context": {"cluster": "local", "user": "local"}}],
                "users": [{"name": "local", "user": {}}],
                "current-context": "local",
            }
        )
    )


@contextmanager
def serve(registry: ResourceRegistry, objects: dict[str, dict[str, Any]], tmp: Path) -> Iterator[DocServer]:
    """Serve on 127.0.0.1:0 until the block ends; the DocServer holds a kubeconfig and the request log."""
    state = DocServer(registry=registry, objects=objects, kubeconfig=tmp / "kubeconfig")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    write_kubeconfig(state.kubeconfig, f"http://127.0.0.1:{httpd.server_port}")
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
