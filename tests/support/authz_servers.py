"""Authorization servers for the ext_authz tests, run in the test process on 127.0.0.1.

`GrpcAuthServer` speaks Envoy's `envoy.service.auth.v3.Authorization/Check` (gRPC over h2c). Its
rules, which the tests rely on:

* a request with the header `x-allow: yes` is allowed, any other is denied with 403;
* `x-auth-delay: SECONDS` makes it wait that long before answering (to prove responseTimeout);
* an allowed answer adds response headers for the client: `x-auth-context` (the context extensions
  Envoy sent, `k=v` pairs sorted and joined with `;`), and `x-auth-body` (the request body it got,
  bytes or string, decoded as UTF-8) when a body was sent;
* every check request is kept in `checks`, so a test can tell whether a request was checked at all.

`HttpAuthServer` is the same idea for serviceType http (a plain HTTP server: 200 allows, 403 denies).
It keeps every check's path and headers in `checks`, and its allowing answer carries `x-auth-user:
alice` and `x-auth-extra: unlisted` (for allowedUpstreamHeaders to copy, or not, into the request
sent upstream). Both stop in `stop()`; tests use them as context managers.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from envoy.type.v3 import http_status_pb2
from google.rpc import code_pb2, status_pb2

ALLOW_HEADER = "x-allow"
DELAY_HEADER = "x-auth-delay"
CONTEXT_HEADER = "x-auth-context"
BODY_HEADER = "x-auth-body"
USER_HEADER = "x-auth-user"
EXTRA_HEADER = "x-auth-extra"


def _header(name: str, value: str) -> Any:
    return base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=name, value=value))


class _Authorization(external_auth_pb2_grpc.AuthorizationServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.checks: list[Any] = []
        self._lock = threading.Lock()

    def Check(self, request: Any, context: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        with self._lock:
            self.checks.append(request)
        http = request.attributes.request.http
        headers = dict(http.headers)
        delay = headers.get(DELAY_HEADER)
        if delay:
            time.sleep(float(delay))  # the behaviour under test: a slow authorization server
        if headers.get(ALLOW_HEADER) != "yes":
            return external_auth_pb2.CheckResponse(
                status=status_pb2.Status(code=code_pb2.PERMISSION_DENIED),
                denied_response=external_auth_pb2.DeniedHttpResponse(
                    status=http_status_pb2.HttpStatus(code=http_status_pb2.Forbidden), body="denied"
                ),
            )
        extensions = ";".join(f"{k}={v}" for k, v in sorted(request.attributes.context_extensions.items()))
        ok = external_auth_pb2.OkHttpResponse(response_headers_to_add=[_header(CONTEXT_HEADER, extensions)])
        body = http.raw_body.decode("utf-8", "replace") if http.raw_body else http.body
        if body:
            ok.response_headers_to_add.append(_header(BODY_HEADER, body))
        return external_auth_pb2.CheckResponse(status=status_pb2.Status(code=code_pb2.OK), ok_response=ok)


class GrpcAuthServer:
    """A gRPC ext_authz server on 127.0.0.1 (port chosen by the kernel)."""

    def __init__(self) -> None:
        self._service = _Authorization()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        external_auth_pb2_grpc.add_AuthorizationServicer_to_server(self._service, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def checks(self) -> list[Any]:
        return self._service.checks

    def stop(self) -> None:
        self._server.stop(grace=None)

    def __enter__(self) -> GrpcAuthServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class HttpCheck:
    """One check the HTTP authorization server answered: the path and headers (names lower-cased)."""

    path: str
    headers: dict[str, str]


class _HttpCheck(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    paths: list[str]
    checks: list[HttpCheck]

    def _answer(self) -> None:
        self.paths.append(self.path)
        self.checks.append(HttpCheck(self.path, {k.lower(): v for k, v in self.headers.items()}))
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        allowed = self.headers.get(ALLOW_HEADER) == "yes"
        self.send_response(200 if allowed else 403)
        self.send_header("x-auth-path", self.path)
        if allowed:
            self.send_header(USER_HEADER, "alice")
            self.send_header(EXTRA_HEADER, "unlisted")
        self.send_header("content-length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: Any) -> None:
        return None


class HttpAuthServer:
    """An HTTP authorization server on 127.0.0.1: 200 when `x-allow: yes`, else 403."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.checks: list[HttpCheck] = []
        handler = type("Handler", (_HttpCheck,), {"paths": self.paths, "checks": self.checks})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> HttpAuthServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
