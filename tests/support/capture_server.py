"""A loopback endpoint that records the request bodies real kubectl sends, protobuf ones included.

kubectl's typed-client commands (`kubectl create namespace`, `create secret tls`, ...) encode their
bodies as `application/vnd.kubernetes.protobuf`. To test a decoder against real bytes, this serves just
enough for kubectl to get that far: discovery and OpenAPI v3 from the embedded API server's own
builders, `/version`, canned objects for GET, and for every write a 201/200 answering an object of the
requested kind (kubectl only reads its kind and name to print `kind/name created`). Every request is
recorded with its Content-Type and raw body.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contour.apiserver.discovery import discovery_document
from contour.apiserver.openapi import OpenAPIDocuments
from contour.apiserver.requests import parse_path
from contour.apiserver.resources import ResourceRegistry

KUBECTL = str(Path(sys.executable).parent / "kubectl")
NAMESPACE = "default"
VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"}


@dataclass(frozen=True)
class Captured:
    method: str
    path: str
    content_type: str
    body: bytes


@dataclass
class CaptureServer:
    kubeconfig: Path
    objects: Mapping[str, dict[str, Any]]  # request path -> object answered to GET
    registry: ResourceRegistry = field(default_factory=ResourceRegistry)
    requests: list[Captured] = field(default_factory=list)

    def writes(self) -> list[Captured]:
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]

    def kubectl(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={"HOME": str(self.kubeconfig.parent), "PATH": "/usr/bin:/bin"},
        )


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _handler(server: CaptureServer) -> type[BaseHTTPRequestHandler]:
    documents = OpenAPIDocuments()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: requests are recorded in `server.requests`."""

        def reply(
            self, code: int, body: Mapping[str, Any] | bytes, content_type: str = "application/json"
        ) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def record(self) -> Captured:
            length = int(self.headers.get("Content-Length") or 0)
            captured = Captured(
                method=self.command,
                path=urlsplit(self.path).path,
                content_type=self.headers.get("Content-Type", ""),
                body=self.rfile.read(length) if length else b"",
            )
            with lock:
                server.requests.append(captured)
            return captured

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
                    self.reply(404, _status(404, "NotFound", f"no OpenAPI document at {path}"))
                else:
                    self.reply(200, body)
                return
            found = discovery_document(server.registry, path, self.headers.get("Accept", ""))
            if found is not None:
                self.reply(200, found[0], found[1])
                return
            obj = server.objects.get(path)
            if obj is None:
                self.reply(404, _status(404, "NotFound", f"the server could not find {path}"))
            else:
                self.reply(200, obj)

        def write(self, code: int) -> None:
            request = self.record()
            target = parse_path(request.path)
            rtype = (
                server.registry.lookup(target.group, target.version, target.plural)
                if target is not None
                else None
            )
            if target is None or rtype is None:
                self.reply(404, _status(404, "NotFound", f"the server could not find {request.path}"))
                return
            existing = server.objects.get(request.path)
            if existing is not None:
                self.reply(200, existing)
                return
            metadata: dict[str, Any] = {"name": target.name or "captured"}
            if target.namespace:
                metadata["namespace"] = target.namespace
            self.reply(code, {"apiVersion": rtype.api_version, "kind": rtype.kind, "metadata": metadata})

        def do_POST(self) -> None:
            self.write(201)

        def do_PUT(self) -> None:
            self.write(200)

        def do_PATCH(self) -> None:
            self.write(200)

        def do_DELETE(self) -> None:
            self.write(200)

    return Handler


def _write_kubeconfig(path: Path, server_url: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": server_url}}],
        "contexts": [
            {"name": "local", "context": {"cluster": "local", "user": "local", "namespace": "default"}}
        ],
        "users": [{"name": "local", "user": {}}],
        "current-context": "local",
    }
    path.write_text(json.dumps(config))


@contextmanager
def serve(tmp: Path, objects: Mapping[str, dict[str, Any]] | None = None) -> Iterator[CaptureServer]:
    """Serve on 127.0.0.1:0 until the block ends; the CaptureServer holds a kubeconfig and the requests."""
    state = CaptureServer(kubeconfig=tmp / "kubeconfig", objects=objects or {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _write_kubeconfig(state.kubeconfig, f"http://127.0.0.1:{httpd.server_port}")
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
