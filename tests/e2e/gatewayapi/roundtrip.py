"""Requests and their expected answers, compared like the upstream suite's `CompareRoundTrip`.

`Case` is upstream's `ExpectedResponse` in short: the request (Host, path, method, headers, scheme),
the status codes accepted (504 and 408 are one "timeout" class), for 200 what the echo must have seen
(path with query, host, method, headers present or absent, namespace, the pod name's prefix), response
headers present or absent, and for redirects the Location's scheme, host, port and path.
`expect_consistent` passes a case only after 3 matching answers in a row within 30 s, polling every
100 ms, as `MakeRequestAndExpectEventuallyConsistentResponse` does. Keep-alive is off (one connection
per request), as in the upstream client.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

REQUIRED_CONSECUTIVE = 3
MAX_TIME_TO_CONSISTENCY = 30.0
POLL_INTERVAL = 0.1
TIMEOUT_CODES = frozenset({504, 408})


@dataclass(frozen=True)
class Case:
    path: str = "/"
    host: str = ""
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    https: bool = False
    sni: str | None = None
    port: int | None = None  # overrides the Gateway's first listener port
    # expectations
    status: tuple[int, ...] = (200,)
    backend: str | None = None
    namespace: str | None = None
    seen_path: str | None = None  # default: `path`
    seen_host: str | None = None
    seen_method: str | None = None
    seen_headers: dict[str, str] = field(default_factory=dict)
    absent_headers: tuple[str, ...] = ()
    response_headers: dict[str, str] = field(default_factory=dict)
    absent_response_headers: tuple[str, ...] = ()
    redirect: dict[str, str | None] | None = None  # scheme, host, port, path of Location

    @property
    def name(self) -> str:
        return f"{self.method} {self.host}{self.path}"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: dict[str, Any] | None
    text: str = ""


def send(address: str, port: int, case: Case, context: ssl.SSLContext | None = None) -> Reply:
    """One request on a new connection; the Host header is the case's host (SNI too, over TLS)."""
    headers = {"Host": case.host or f"{address}:{port}", "Connection": "close", **case.headers}
    if case.https:
        assert context is not None, "an HTTPS case needs a client TLS context"
        raw = socket.create_connection((address, port), timeout=10)
        sock: socket.socket = context.wrap_socket(raw, server_hostname=case.sni or case.host or None)
        connection = http.client.HTTPConnection(address, port, timeout=10)
        connection.sock = sock
    else:
        connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.putrequest(case.method, case.path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        raw_body = response.read()
        answer_headers: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            answer_headers.setdefault(name.lower(), []).append(value)
        body = None
        if answer_headers.get("content-type") == ["application/json"]:
            body = json.loads(raw_body)
        return Reply(response.status, answer_headers, body, raw_body[:200].decode(errors="replace"))
    finally:
        connection.close()


def mismatch(case: Case, reply: Reply) -> str | None:
    """Why `reply` does not satisfy `case` (None when it does)."""
    wanted = set(case.status)
    if TIMEOUT_CODES & wanted:
        wanted |= TIMEOUT_CODES
    if reply.status not in wanted:
        return f"status {reply.status} ({reply.text!r}), expected {sorted(case.status)}"
    for name, value in case.response_headers.items():
        got = ",".join(reply.headers.get(name.lower(), []))
        if got != value:
            return f"response header {name}={got!r}, expected {value!r}"
    for name in case.absent_response_headers:
        if name.lower() in reply.headers:
            return f"response header {name} present, expected absent"
    if reply.status in (200, 204) and (case.backend or case.seen_headers or reply.status == 200):
        problem = _request_mismatch(case, reply)
        if problem:
            return problem
    if 300 <= reply.status < 400 and case.redirect is not None:
        return _redirect_mismatch(case, reply)
    return None


def _request_mismatch(case: Case, reply: Reply) -> str | None:
    echo = reply.body
    if echo is None:
        return "no JSON echo in the answer"
    expected_host = case.seen_host
    if expected_host is not None and echo.get("host") != expected_host:
        return f"echo host {echo.get('host')!r}, expected {expected_host!r}"
    expected_path = case.seen_path if case.seen_path is not None else case.path
    if echo.get("path") != expected_path:
        return f"echo path {echo.get('path')!r}, expected {expected_path!r}"
    expected_method = case.seen_method or case.method
    if echo.get("method") != expected_method:
        return f"echo method {echo.get('method')!r}, expected {expected_method!r}"
    if case.namespace is not None and echo.get("namespace") != case.namespace:
        return f"echo namespace {echo.get('namespace')!r}, expected {case.namespace!r}"
    seen = {name.lower(): ",".join(values) for name, values in (echo.get("headers") or {}).items()}
    for name, value in case.seen_headers.items():
        if seen.get(name.lower()) != value:
            return f"echo header {name}={seen.get(name.lower())!r}, expected {value!r}"
    for name in case.absent_headers:
        if name.lower() in seen:
            return f"echo header {name} present, expected absent"
    if case.backend is not None and not str(echo.get("pod", "")).startswith(case.backend):
        return f"answered by pod {echo.get('pod')!r}, expected {case.backend}-*"
    return None


def _redirect_mismatch(case: Case, reply: Reply) -> str | None:
    assert case.redirect is not None
    location = (reply.headers.get("location") or [""])[0]
    parts = urlsplit(location)
    want = case.redirect
    scheme = want.get("scheme") or "http"
    if parts.scheme != scheme:
        return f"Location {location!r}: scheme, expected {scheme}"
    if "host" in want and parts.hostname != want["host"]:
        return f"Location {location!r}: host, expected {want['host']}"
    got_port = str(parts.port) if parts.port is not None else ""
    if want.get("port") is not None:
        if got_port != want["port"]:
            return f"Location {location!r}: port, expected {want['port']}"
    elif got_port not in ("", "443" if scheme == "https" else "80"):
        return f"Location {location!r}: port {got_port}, expected none"
    if "path" in want:
        got_path = parts.path + (f"?{parts.query}" if parts.query else "")
        if got_path != want["path"]:
            return f"Location {location!r}: path, expected {want['path']}"
    return None


def expect_consistent(
    address: str,
    port: int,
    case: Case,
    context: ssl.SSLContext | None = None,
    *,
    timeout: float = MAX_TIME_TO_CONSISTENCY,
) -> None:
    """Pass once `case` matched REQUIRED_CONSECUTIVE times in a row; fail at the deadline."""
    deadline = time.monotonic() + timeout
    streak = 0
    last = "no request made"
    while True:
        try:
            problem = mismatch(case, send(address, case.port or port, case, context))
        except (OSError, http.client.HTTPException, json.JSONDecodeError) as error:
            problem = f"{type(error).__name__}: {error}"
        if problem is None:
            streak += 1
            if streak >= REQUIRED_CONSECUTIVE:
                return
        else:
            streak, last = 0, problem
        if time.monotonic() > deadline:
            raise AssertionError(f"{case.name}: not consistent within {timeout}s; last: {last}")
        if problem is not None:
            time.sleep(POLL_INTERVAL)  # the suite's poll interval between attempts
