"""A list-then-watch informer on kr8s: a local copy of one resource that never misses an update.

kr8s has no informer, and its own watch restarts from the same resourceVersion on 410 Gone, which loops
forever once that version is compacted away. This one does what client-go's reflector and kopf do:

* list in pages (limit/continue), then watch from the list's resourceVersion with bookmarks requested
  and a jittered server-side timeout;
* a watch that ends normally resumes from the last resourceVersion seen (object or BOOKMARK);
* an ERROR event (410 Gone/Expired or anything else), or a 410 on a continue token, means the history
  needed to resume is gone: list again and diff the new list against the store, so consumers see only
  the differences (ADDED/MODIFIED/DELETED) and stay consistent;
* a connection error or a cut stream backs off (capped exponential, full jitter) and resumes the watch
  from the last resourceVersion (a 410 there relists);
* a stream that sends nothing, not even a bookmark, for `inactivity_timeout` seconds is dropped and
  resumed: half-open TCP connections otherwise hang forever.

Every object is parsed once, into `model` when one is given. An object the model rejects is an INVALID
event and an entry of `invalid`, never an exception. Events are emitted by comparing with the store, not
by trusting the wire's event type, and an object whose resourceVersion did not change is not re-emitted:
a resumed watch or a relist that replays what the store already holds emits nothing.

Nothing here is specific to the embedded API server; resourceVersions are opaque strings.
See https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import httpx
import kr8s
import kr8s.asyncio
import pydantic

from contour.k8s.backoff import Backoff

log = logging.getLogger(__name__)

Item: TypeAlias = pydantic.BaseModel | dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED", "INVALID"]


@dataclass(frozen=True)
class InformerEvent:
    """One change of the store. `obj` is the state after the change, `old` the state before.

    ADDED: obj set, old None. MODIFIED: both set. DELETED: obj None, old the last state held (None when
    the object was invalid). INVALID: obj is the raw dict the model rejected, old the valid state it
    replaced (or None), reason says why; the key leaves `store` and enters `invalid`.
    """

    type: EventType
    key: str
    obj: Item | None
    old: Item | None
    reason: str = ""


@dataclass
class InformerCounters:
    lists: int = 0  # complete lists, the first included
    relists: int = 0  # complete lists after the first
    list_pages: int = 0  # list pages received
    watches: int = 0  # watch streams opened
    watch_restarts: int = 0  # watch streams opened after the first
    bookmarks: int = 0
    expired: int = 0  # 410 answers: ERROR events, continue tokens, HTTP 410
    inactivity_timeouts: int = 0
    errors: int = 0  # failed requests, cut streams, ERROR events, undecodable lines
    callback_errors: int = 0


class _ExpiredError(Exception):
    """The resourceVersion or continue token is older than the server's history: list again."""


class _WatchFailedError(Exception):
    """The watch answered an error other than 410: list again after a backoff."""


class _InactiveError(Exception):
    """The stream sent nothing for inactivity_timeout seconds."""


class Informer:
    def __init__(
        self,
        api: kr8s.asyncio.Api,
        *,
        group: str,
        version: str,
        plural: str,
        namespace: str | None = None,
        model: type[pydantic.BaseModel] | None = None,
        label_selector: str = "",
        field_selector: str = "",
        page_size: int = 500,
        watch_timeout: float = 300,
        inactivity_timeout: float = 90,
        backoff_initial: float = 0.2,
        backoff_max: float = 30,
        on_event: Callable[[InformerEvent], Awaitable[None] | None] | None = None,
    ) -> None:
        self.api = api
        self.group = group
        self.version = version
        self.plural = plural
        self.namespace = namespace
        self.model = model
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.inactivity_timeout = inactivity_timeout
        self.on_event = on_event
        self.store: dict[str, Item] = {}
        self.invalid: dict[str, str] = {}
        self.resource_version = ""
        self.counters = InformerCounters()
        self._rvs: dict[str, str] = {}  # key -> resourceVersion of the last object seen, valid or not
        self._synced = asyncio.Event()
        self._backoff = Backoff(backoff_initial, backoff_max)
        self._rng = random.Random()
        self._running = False
        # Set until a list completes: a relist cut short (error, cancel) is a relist again on resume.
        self._list_needed = True
        # After a continue token expired, list in one request: paging again could expire again.
        self._unpaged_once = False

    @property
    def name(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        return f"{self.plural}.{self.group or 'core'}/{self.version}{where}"

    def __repr__(self) -> str:
        return f"Informer({self.name}, rv={self.resource_version!r}, objects={len(self.store)})"

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, timeout: float) -> None:
        """Return once the first complete list is in the store; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            await self._synced.wait()

    def resource_versions(self) -> dict[str, str]:
        """key -> resourceVersion of every object held, valid or invalid."""
        return dict(self._rvs)

    # The loop --------------------------------------------------------------------------------------

    async def run(self) -> None:
        """List and watch until cancelled. Calling it again after a cancel resumes from the last version."""
        if self._running:
            raise RuntimeError(f"{self.name}: run() is already running")
        self._running = True
        try:
            await self._loop()
        finally:
            self._running = False

    async def _loop(self) -> None:
        while True:
            try:
                if self._list_needed:
                    await self._list()
                    self._backoff.reset()
                events = await self._watch()
                if events == 0:
                    # Ended cleanly without sending anything: do not hammer a server that does so at once.
                    await self._backoff.sleep()
            except _ExpiredError as exc:
                self.counters.expired += 1
                log.info("%s: %s; listing again", self.name, exc)
                if self._list_needed:
                    # Expired during a list (a continue token): the next list is unpaged; pace it anyway.
                    await self._backoff.sleep()
                self._list_needed = True
            except _WatchFailedError as exc:
                self.counters.errors += 1
                delay = await self._backoff.sleep()
                log.warning("%s: %s; listing again after %.2fs", self.name, exc, delay)
                self._list_needed = True
            except _InactiveError as exc:
                self.counters.inactivity_timeouts += 1
                log.info("%s: %s; asking again", self.name, exc)
            except (httpx.HTTPError, kr8s.ServerError, kr8s.APITimeoutError, OSError, ValueError) as exc:
                self.counters.errors += 1
                delay = await self._backoff.sleep()
                log.info("%s: %s: %s; retried after %.2fs", self.name, type(exc).__name__, exc, delay)
            except Exception:
                self.counters.errors += 1
                log.exception("%s: unexpected error", self.name)
                await self._backoff.sleep()

    # Requests --------------------------------------------------------------------------------------

    def _request(self, params: dict[str, str]) -> contextlib.AbstractAsyncContextManager[httpx.Response]:
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        if self.field_selector:
            params["fieldSelector"] = self.field_selector
        return self.api.call_api(
            "GET",
            version=f"{self.group}/{self.version}" if self.group else self.version,
            base="/apis" if self.group else "/api",
            namespace=self.namespace,
            url=self.plural,
            params=params,
            stream=True,
        )

    @contextlib.asynccontextmanager
    async def _open(self, params: dict[str, str]) -> AsyncIterator[AsyncIterator[bytes]]:
        """Send a GET and yield its body chunk by chunk; _InactiveError on a stall, _ExpiredError on 410."""
        async with contextlib.AsyncExitStack() as stack:
            try:
                async with asyncio.timeout(self.inactivity_timeout):
                    response = await stack.enter_async_context(self._request(params))
            except TimeoutError:
                raise _InactiveError(f"no answer in {self.inactivity_timeout}s") from None
            except kr8s.ServerError as exc:
                if exc.response is not None and exc.response.status_code == 410:
                    raise _ExpiredError(f"HTTP 410: {exc}") from None
                raise
            yield self._chunks(response)

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[bytes]:
        chunks = response.aiter_bytes().__aiter__()
        while True:
            try:
                async with asyncio.timeout(self.inactivity_timeout):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise _InactiveError(f"nothing received for {self.inactivity_timeout}s") from None
            yield chunk

    # List ------------------------------------------------------------------------------------------

    async def _list(self) -> None:
        items: dict[str, dict[str, Any]] = {}
        paged = self.page_size > 0 and not self._unpaged_once
        params: dict[str, str] = {"limit": str(self.page_size)} if paged else {}
        list_rv = ""
        while True:
            try:
                async with self._open(dict(params)) as chunks:
                    body = b"".join([chunk async for chunk in chunks])
            except _ExpiredError:
                if "continue" in params:
                    self._unpaged_once = True
                raise
            page = json.loads(body)
            self.counters.list_pages += 1
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise ValueError(f"a list answer without items: {body[:200]!r}")
            api_version = page.get("apiVersion", "")
            kind = str(page.get("kind", "")).removesuffix("List")
            for raw in page["items"]:
                if not isinstance(raw, dict):
                    raise ValueError("a list item is not an object")
                # Lists of built-in kinds leave apiVersion/kind out of items; watch events carry them.
                raw.setdefault("apiVersion", api_version)
                raw.setdefault("kind", kind)
                items[self._key(raw)] = raw
            meta = page.get("metadata") or {}
            list_rv = str(meta.get("resourceVersion", ""))
            token = meta.get("continue")
            if not token:
                break
            params["continue"] = str(token)
        self._unpaged_once = False
        self.counters.lists += 1
        if self._synced.is_set():
            self.counters.relists += 1
        for key in sorted(items):
            await self._emit(self._upsert(key, items[key]))
        for key in sorted(self._rvs.keys() - items.keys()):
            await self._emit(self._remove(key))
        self.resource_version = list_rv
        self._list_needed = False
        self._synced.set()
        log.debug("%s: listed %d objects at resourceVersion %s", self.name, len(items), list_rv)

    # Watch -----------------------------------------------------------------------------------------

    async def _watch(self) -> int:
        """One watch stream from self.resource_version; returns how many lines it carried."""
        timeout = max(1, round(self.watch_timeout * self._rng.uniform(0.9, 1.1)))
        params = {
            "watch": "true",
            "resourceVersion": self.resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout),
        }
        lines = 0
        async with self._open(params) as chunks:
            self.counters.watches += 1
            if self.counters.watches > 1:
                self.counters.watch_restarts += 1
            buffer = b""
            async for chunk in chunks:
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for line in complete:
                    if line.strip():
                        lines += 1
                        await self._on_line(line)
            # A clean end of the body ends mid-line only if the server broke its framing.
            if buffer.strip():
                raise ValueError("watch stream ended inside an event")
        self._backoff.reset()
        return lines

    async def _on_line(self, line: bytes) -> None:
        event = json.loads(line)
        kind = event.get("type") if isinstance(event, dict) else None
        raw = event.get("object") if isinstance(event, dict) else None
        if not isinstance(raw, dict):
            raise ValueError(f"a watch event without an object: {line[:200]!r}")
        if kind == "ERROR":
            code = raw.get("code")
            message = f"ERROR event {code} {raw.get('reason', '')}: {raw.get('message', '')}"
            if code == 410:
                raise _ExpiredError(message)
            raise _WatchFailedError(message)
        rv = str((raw.get("metadata") or {}).get("resourceVersion", ""))
        if kind == "BOOKMARK":
            self.counters.bookmarks += 1
        elif kind in ("ADDED", "MODIFIED"):
            await self._emit(self._upsert(self._key(raw), raw))
        elif kind == "DELETED":
            await self._emit(self._remove(self._key(raw)))
        else:
            log.warning("%s: ignored a watch event of type %r", self.name, kind)
            return
        if rv:
            self.resource_version = rv
        # A healthy stream resets the backoff, so one cut after hours of service retries quickly.
        self._backoff.reset()

    # The store -------------------------------------------------------------------------------------

    @staticmethod
    def _key(raw: Mapping[str, Any]) -> str:
        meta = raw.get("metadata")
        if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
            raise ValueError("an object without metadata.name")
        namespace = meta.get("namespace")
        return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])

    def _parse(self, raw: dict[str, Any]) -> tuple[Item, str]:
        if self.model is None:
            return raw, ""
        try:
            return self.model.model_validate(raw), ""
        except pydantic.ValidationError as exc:
            return raw, _describe(exc)

    def _upsert(self, key: str, raw: dict[str, Any]) -> InformerEvent | None:
        rv = str(raw["metadata"].get("resourceVersion", ""))
        if key in self._rvs and self._rvs[key] == rv:
            return None
        item, reason = self._parse(raw)
        self._rvs[key] = rv
        old = self.store.get(key)
        if reason:
            self.store.pop(key, None)
            self.invalid[key] = reason
            return InformerEvent("INVALID", key, raw, old, reason)
        self.invalid.pop(key, None)
        self.store[key] = item
        return InformerEvent("ADDED" if old is None else "MODIFIED", key, item, old)

    def _remove(self, key: str) -> InformerEvent | None:
        if self._rvs.pop(key, None) is None:
            return None
        self.invalid.pop(key, None)
        return InformerEvent("DELETED", key, None, self.store.pop(key, None))

    async def _emit(self, event: InformerEvent | None) -> None:
        if event is None or self.on_event is None:
            return
        try:
            result = self.on_event(event)
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            self.counters.callback_errors += 1
            log.exception("%s: the event handler failed on %s %s", self.name, event.type, event.key)


def _describe(exc: pydantic.ValidationError) -> str:
    """The validation errors as one line: `spec.virtualhost.fqdn: Input should be a valid string`."""
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:10]:
        where = ".".join(str(p) for p in error["loc"]) or "(object)"
        parts.append(f"{where}: {error['msg']}")
    if len(errors) > 10:
        parts.append(f"and {len(errors) - 10} more")
    return "; ".join(parts)
