"""Snapshots per node group, and the watches through which streams learn a new one was set.

Every Envoy shares the group ``"contour"`` by default, as Contour does. ``SnapshotCache(group_of=...)``
takes a function from an ``envoy.config.core.v3.Node`` to a group name, e.g. ``group_by_node_cluster``
for one snapshot per Gateway named by ``node.cluster``.

A stream opens a ``Watch`` on its group with an ``asyncio.Event``; ``set_snapshot`` sets the event of
every watch of that group, and the stream then compares versions itself. No polling, and closing the
watch removes every reference the cache holds to the stream. Use from the event loop's thread only.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from contour.xds.snapshot import Snapshot

DEFAULT_GROUP = "contour"

NodeGrouper = Callable[[Any], str]


def same_group_for_all(node: Any) -> str:
    """Every Envoy gets the same configuration (Contour's model)."""
    return DEFAULT_GROUP


def group_by_node_cluster(node: Any) -> str:
    """One snapshot per ``node.cluster`` (e.g. one per Gateway); nodes without a cluster get the default."""
    return str(node.cluster) or DEFAULT_GROUP


class Watch:
    """A stream's interest in one group's snapshot. ``close()`` it when the stream ends."""

    __slots__ = ("_cache", "group", "wake")

    def __init__(self, cache: "SnapshotCache", group: str, wake: asyncio.Event) -> None:
        self._cache: SnapshotCache | None = cache
        self.group = group
        self.wake = wake

    def snapshot(self) -> Snapshot | None:
        """The group's current snapshot (``None`` before the first one, or after close)."""
        return self._cache.snapshot(self.group) if self._cache is not None else None

    def close(self) -> None:
        """Stop being woken; idempotent."""
        if self._cache is not None:
            self._cache._remove_watch(self)
            self._cache = None


class SnapshotCache:
    """The current snapshot of each node group and the open watches on each group."""

    def __init__(self, group_of: NodeGrouper = same_group_for_all) -> None:
        self._group_of = group_of
        self._snapshots: dict[str, Snapshot] = {}
        self._watches: dict[str, set[Watch]] = {}

    def group_of(self, node: Any) -> str:
        """The group a node belongs to."""
        return self._group_of(node)

    def set_snapshot(self, group: str, snapshot: Snapshot) -> None:
        """Publish ``snapshot`` for ``group`` and wake every stream watching it."""
        self._snapshots[group] = snapshot
        for watch in self._watches.get(group, ()):
            watch.wake.set()

    def clear_snapshot(self, group: str) -> None:
        """Forget a group's snapshot (its streams keep what they were sent and wait for a new one)."""
        self._snapshots.pop(group, None)

    def snapshot(self, group: str) -> Snapshot | None:
        """A group's current snapshot, if any."""
        return self._snapshots.get(group)

    def groups(self) -> list[str]:
        """The groups that have a snapshot, sorted."""
        return sorted(self._snapshots)

    def watch(self, group: str, wake: asyncio.Event) -> Watch:
        """Set ``wake`` whenever ``group`` gets a new snapshot, until the returned watch is closed."""
        watch = Watch(self, group, wake)
        self._watches.setdefault(group, set()).add(watch)
        return watch

    def watch_count(self) -> int:
        """Open watches over all groups (zero once every stream has ended)."""
        return sum(len(w) for w in self._watches.values())

    def _remove_watch(self, watch: Watch) -> None:
        watches = self._watches.get(watch.group)
        if watches is not None:
            watches.discard(watch)
            if not watches:
                del self._watches[watch.group]
