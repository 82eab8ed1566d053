"""What SotW and delta streams share: the request pump, the node's watch, and cleanup at the end.

A stream is one task that sleeps on one ``asyncio.Event``. The event is set when a request arrives
(a reader task appends it to a queue) and when the node group's snapshot changes (the cache's watch).
On each wake-up the stream applies the queued requests, then sends what the current snapshot and the
subscriptions call for. Everything the stream registered (watch, NACKs, gauge) is released in
``finally``, whether the client closed, cancelled or sent garbage.
"""

import asyncio
import itertools
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from envoy.config.core.v3 import base_pb2

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache, Watch
from contour.xds.metrics import XdsMetrics
from contour.xds.nacks import NackRegistry
from contour.xds.snapshot import Snapshot

log = logging.getLogger(__name__)

# Called with (type URL, encoded response) to hand a response to the transport.
Send = Callable[[str, bytes], Awaitable[None]]

# Called with (type URL, node id, version) for every ACK a stream receives.
AckHook = Callable[[str, str, str], None]


class StreamRefusedError(Exception):
    """The stream cannot go on (e.g. a CDS stream asked for listeners); ends it with a gRPC error."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class ServerState:
    """What every stream of a server shares."""

    cache: SnapshotCache
    nacks: NackRegistry
    metrics: XdsMetrics
    on_ack: AckHook | None = None
    stream_ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    open_streams: set[int] = field(default_factory=set)


class _RequestPump:
    """Reads requests into a queue and sets ``wake`` for each one, and when the client is done."""

    def __init__(self, requests: AsyncIterator[Any], wake: asyncio.Event) -> None:
        self.queue: deque[Any] = deque()
        self.finished = False
        self.error: BaseException | None = None
        self._wake = wake
        self._task = asyncio.create_task(self._read(requests))

    async def _read(self, requests: AsyncIterator[Any]) -> None:
        try:
            async for request in requests:
                self.queue.append(request)
                self._wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a broken request stream ends this stream only
            self.error = error
        finally:
            self.finished = True
            self._wake.set()

    def close(self) -> None:
        self._task.cancel()


class XdsStream(ABC):
    """One xDS stream. Subclasses apply requests and produce responses."""

    variant: ClassVar[str]

    def __init__(self, state: ServerState, *, fixed_type: str | None) -> None:
        self.state = state
        self.fixed_type = fixed_type
        self.id = next(state.stream_ids)
        self.node: Any = None
        self.watch: Watch | None = None
        self._warned: set[str] = set()

    @property
    def node_id(self) -> str:
        return str(self.node.id) if self.node is not None else ""

    @property
    def node_cluster(self) -> str:
        return str(self.node.cluster) if self.node is not None else ""

    async def run(self, requests: AsyncIterator[Any], send: Send) -> None:
        """Serve the stream until the client ends it. Raises ``StreamRefusedError`` for a fatal request."""
        metrics = self.state.metrics
        metrics.open_streams.labels(self.variant).inc()
        self.state.open_streams.add(self.id)
        wake = asyncio.Event()
        pump = _RequestPump(requests, wake)
        try:
            while True:
                await wake.wait()
                wake.clear()
                while pump.queue:
                    self._accept(pump.queue.popleft(), wake)
                if pump.finished:
                    if pump.error is not None:
                        raise StreamRefusedError("undecodable", f"unreadable request: {pump.error}")
                    return
                snapshot = self.watch.snapshot() if self.watch is not None else None
                if snapshot is not None:
                    await self.respond(snapshot, send)
        finally:
            # No await in here: gRPC may cancel this task again while it cleans up.
            pump.close()
            if self.watch is not None:
                self.watch.close()
            self.state.nacks.drop_stream(self.id)
            self.state.open_streams.discard(self.id)
            metrics.open_streams.labels(self.variant).dec()

    def _accept(self, request: Any, wake: asyncio.Event) -> None:
        if self.node is None:
            # Only the first request must carry the node (set_node_on_first_message_only).
            self.node = request.node if request.HasField("node") else base_pb2.Node()
            self.watch = self.state.cache.watch(self.state.cache.group_of(self.node), wake)
        try:
            self.handle(request)
        except StreamRefusedError:
            raise
        except Exception:
            self.state.metrics.bad_requests.labels("unhandled").inc()
            log.exception("xDS stream %d (%s): request ignored", self.id, self.node_id)

    def acknowledged(self, type_url: str, version: str) -> None:
        """The client ACKed a response of ``type_url``: clear its NACK and tell the server's ACK hook."""
        self.state.nacks.clear(self.node_id, self.node_cluster, type_url)
        hook = self.state.on_ack
        if hook is None:
            return
        try:
            hook(type_url, self.node_id, version)
        except Exception:  # the hook is someone else's code: it must not end the stream
            log.exception("xDS stream %d (%s): the ACK hook failed for %s", self.id, self.node_id, type_url)

    def warn_once(self, reason: str, message: str) -> None:
        """Count a bad request and log it once per stream and reason."""
        self.state.metrics.bad_requests.labels(reason).inc()
        if reason not in self._warned:
            self._warned.add(reason)
            log.warning("xDS stream %d (node %s): %s", self.id, self.node_id, message)

    def type_of(self, request_type_url: str) -> str | None:
        """The request's type URL, checked against the service; ``None`` for a type nobody serves."""
        type_url = request_type_url or (self.fixed_type or "")
        if self.fixed_type is not None and type_url != self.fixed_type:
            raise StreamRefusedError("wrong_type", f"{type_url!r} requested on the {self.fixed_type} service")
        if type_url not in typeurls.KNOWN:
            self.warn_once("unknown_type", f"ignoring requests for unknown type URL {type_url!r}")
            return None
        return type_url

    @abstractmethod
    def handle(self, request: Any) -> None:
        """Apply one request to the subscription state."""

    @abstractmethod
    async def respond(self, snapshot: Snapshot, send: Send) -> None:
        """Send whatever ``snapshot`` and the subscriptions call for."""
