"""Fan-out of stored changes to watch streams.

Every committed change is offered to every open watch; a watch keeps the changes that concern it (its
resource, namespace and selectors). A watch with selectors sees an object that stops matching as
DELETED and one that starts matching as ADDED, as the real server's watch cache does. A watcher that
falls too far behind is closed rather than buffered without bound: its client relists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contour.apiserver.selectors import Selector
from contour.apiserver.store import Change

MAX_PENDING = 50_000


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    rv: int
    obj: dict[str, Any]
    text: str  # the object's JSON text, when it can be sent as stored


@dataclass(eq=False)
class Watcher:
    resource: str
    namespace: str | None
    selector: Selector | None
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def offer(self, change: Change, old: Mapping[str, Any] | None) -> None:
        if self.overflowed or change.resource != self.resource:
            return
        if self.namespace is not None and change.namespace != self.namespace:
            return
        event_type = change.type
        if self.selector is not None:
            now = change.type != "DELETED" and self.selector(change.obj)
            before = old is not None and self.selector(old)
            if change.type == "DELETED":
                if not self.selector(change.obj):
                    return
            elif now and not before:
                event_type = "ADDED"
            elif before and not now:
                event_type = "DELETED"
            elif not now:
                return
        if self.queue.qsize() >= MAX_PENDING:
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(WatchEvent(event_type, change.rv, change.obj, change.text))


class WatchHub:
    def __init__(self) -> None:
        self.watchers: set[Watcher] = set()

    def open(self, resource: str, namespace: str | None, selector: Selector | None) -> Watcher:
        watcher = Watcher(resource, namespace, selector)
        self.watchers.add(watcher)
        return watcher

    def close(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)

    def publish(self, change: Change, old: Mapping[str, Any] | None) -> None:
        for watcher in self.watchers:
            watcher.offer(change, old)

    def end_resource(self, resource: str) -> None:
        """Close every watch on a resource that stopped being served (its CRD was deleted)."""
        for watcher in [w for w in self.watchers if w.resource == resource]:
            watcher.queue.put_nowait(None)
            self.watchers.discard(watcher)
