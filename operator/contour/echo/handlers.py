"""Routing and handlers of the echo backend: /health, /status/NNN, /retry/, /redirect, else echo.

This is the behaviour of the Gateway API conformance echo server (`echo-basic`), independent of the
protocol the request arrived on. WebSocket (`/ws`) and the h2c upgrade are connection-level and live
in the HTTP/1.1 front end, which asks `is_websocket_path` here.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from email.utils import formatdate
from urllib.parse import parse_qsl, unquote, urlsplit

from contour.echo.assertions import Identity, render_echo_body, render_error_body
from contour.echo.durations import DurationError, parse_duration
from contour.echo.exchange import RESET, EchoRequest, Reply, Reset

_STATUS_URI = re.compile(r"^/status/(\d\d\d)$")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_FORBIDDEN_VALUE_CHARS = re.compile(r"[\x00\r\n]")
# Headers a client may not set through X-Echo-Set-Header: they would break the response framing or
# contradict the headers the echo handler sets itself.
_RESERVED_REFLECTED = frozenset(
    {
        "content-length",
        "content-type",
        "x-content-type-options",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "proxy-connection",
        "te",
        "trailer",
        "date",
    }
)
_PLAIN_TEXT = "text/plain; charset=utf-8"
_RETRY_BOOK_LIMIT = 100_000


def routing_path(target: str) -> str:
    """The URL path the reference server routes on: decoded, with `//` collapsed to `/`."""
    if target.startswith("/"):
        path = target.partition("?")[0]
    elif "://" in target:
        path = urlsplit(target).path or "/"
    else:
        return target
    return unquote(path).replace("//", "/")


def is_websocket_path(target: str) -> bool:
    return routing_path(target) == "/ws"


def query_value(target: str, name: str) -> str | None:
    """The first value of a query parameter, like Go's Request.FormValue for a query."""
    _, mark, query = target.partition("?")
    if not mark or name not in query:
        return None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == name:
            return value
    return None


class HttpDate:
    """The Date header value, formatted at most once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._value = formatdate(second, usegmt=True)
        return self._value


class RetryBook:
    """Attempts seen per retry uuid; bounded, the oldest uuids are forgotten first."""

    def __init__(self, limit: int = _RETRY_BOOK_LIMIT) -> None:
        self._limit = limit
        self._attempts: OrderedDict[str, int] = OrderedDict()

    def record(self, uuid: str) -> int:
        """Count one more attempt for uuid and return its number, starting at 1."""
        attempt = self._attempts.pop(uuid, 0) + 1
        self._attempts[uuid] = attempt
        if len(self._attempts) > self._limit:
            self._attempts.popitem(last=False)
        return attempt


def reflected_headers(request: EchoRequest) -> list[tuple[str, str]]:
    """Response headers asked for in X-Echo-Set-Header values (`name:value` pairs, comma-separated).

    A repeated name is sent once, its values joined with "," (as the reference server does);
    names that are not HTTP tokens or that would break the response are skipped.
    """
    collected: dict[str, str] = {}
    for key, header_value in request.headers:
        if key != "X-Echo-Set-Header":
            continue
        for pair in header_value.split(","):
            name, _, value = pair.strip().partition(":")
            if not _TOKEN.match(name) or _FORBIDDEN_VALUE_CHARS.search(value):
                continue
            if name.lower() in _RESERVED_REFLECTED:
                continue
            if name in collected:
                collected[name] += "," + value.strip()
            else:
                collected[name] = value
    return list(collected.items())


class EchoApp:
    """The request handlers, shared by every listener and connection of one server."""

    def __init__(self, identity: Identity, log: Callable[[str], None]) -> None:
        self.identity = identity
        self.log = log
        self.retries = RetryBook()
        self.date = HttpDate()

    async def handle(self, request: EchoRequest) -> Reply | Reset:
        """Answer one request; an unexpected failure becomes a 500 with a JSON message."""
        try:
            return await self._route(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            print(f"echo: error handling {request.method} {request.target}: {exc!r}", file=sys.stderr)
            return self.error(str(exc) or type(exc).__name__)

    async def _route(self, request: EchoRequest) -> Reply | Reset:
        path = routing_path(request.target)
        if path == "/health":
            return self.plain(200, b"OK")
        if path.startswith("/status/"):
            return self.status(request)
        if path == "/ws":
            return self.plain(400, b"Bad Request")
        if path == "/retry" or path.startswith("/retry/"):
            return await self.retry(request)
        if path == "/redirect":
            return self.redirect(request)
        return await self.echo(request)

    def plain(self, status: int, body: bytes) -> Reply:
        headers = [("Date", self.date.now())]
        if body:
            headers.append(("Content-Type", _PLAIN_TEXT))
        if status not in (204, 304):
            headers.append(("Content-Length", str(len(body))))
        return Reply(status, tuple(headers), body)

    def error(self, message: str, status: int = 500) -> Reply:
        body = render_error_body(message)
        headers = (
            ("Content-Type", "application/json"),
            ("X-Content-Type-Options", "nosniff"),
            ("Date", self.date.now()),
            ("Content-Length", str(len(body))),
        )
        return Reply(status, headers, body)

    def status(self, request: EchoRequest) -> Reply:
        """`/status/NNN` answers NNN with no body; anything else under /status/ is a 400."""
        match = _STATUS_URI.match(request.target)
        code = int(match.group(1)) if match else 400
        # A 1xx is informational: Go sends it and then the implicit 200 that ends the handler.
        return self.plain(200 if code < 200 else code, b"")

    def redirect(self, request: EchoRequest) -> Reply:
        """`/redirect?to=URL[&status=NNN]` answers NNN (302 by default, any 3xx) with `Location: URL`."""
        target = query_value(request.target, "to")
        if not target or _FORBIDDEN_VALUE_CHARS.search(target):
            return self.error("redirect: the to query parameter must be a URL", 400)
        code_text = query_value(request.target, "status") or "302"
        if not code_text.isdigit() or not 300 <= int(code_text) <= 399:
            return self.error(f"redirect: status {code_text!r} is not a 3xx code", 400)
        reply = self.plain(int(code_text), b"")
        return Reply(reply.status, (("Location", target), *reply.headers), reply.body)

    async def retry(self, request: EchoRequest) -> Reply | Reset:
        """Fail the first `succeedAfter` attempts per uuid (RST, or `responseCode`), then echo."""
        uuid = query_value(request.target, "uuid")
        if not uuid:
            return self.error("retry: the uuid query parameter is required")
        try:
            succeed_after = int(query_value(request.target, "succeedAfter") or "0")
            code_text = query_value(request.target, "responseCode")
            response_code = int(code_text) if code_text else 0
            delay_text = query_value(request.target, "delayRetry")
            delay = parse_duration(delay_text) if delay_text else 0.0
        except DurationError as exc:
            return self.error(str(exc))
        except ValueError as exc:
            return self.error(f"retry: {exc}")
        if response_code and not 200 <= response_code <= 999:
            return self.error(f"retry: responseCode {response_code} is not a final HTTP status")
        attempt = self.retries.record(uuid)
        if attempt > succeed_after:
            return await self.echo(request)
        how = f"status {response_code}" if response_code else "connection reset"
        self.log(f"Failing attempt {attempt} of {succeed_after} for retry uuid {uuid} with {how}")
        if delay > 0:
            await asyncio.sleep(delay)
        return self.plain(response_code, b"") if response_code else RESET

    async def echo(self, request: EchoRequest) -> Reply:
        self.log(f"Echoing back request made to {request.target} to client ({request.connection.remote})")
        delay_text = query_value(request.target, "delay")
        if delay_text:
            try:
                delay = parse_duration(delay_text)
            except DurationError as exc:
                return self.error(str(exc))
            if delay > 0:
                await asyncio.sleep(delay)
        body = render_echo_body(request, self.identity)
        headers = [
            *reflected_headers(request),
            ("Content-Type", "application/json"),
            ("X-Content-Type-Options", "nosniff"),
            ("Date", self.date.now()),
            ("Content-Length", str(len(body))),
        ]
        return Reply(200, tuple(headers), body)
