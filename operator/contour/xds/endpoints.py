"""Endpoint-only updates: change some ClusterLoadAssignments without rebuilding anything else.

EndpointSlice churn is the most frequent change in a cluster. ``EndpointsCache.update`` derives a
snapshot from a group's current one in which only EDS changes; clusters, listeners, routes and secrets
are the same ``TypeResources`` objects (same bytes, same versions), so streams send EDS only.
"""

from collections.abc import Iterable
from typing import Any

from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.snapshot import Snapshot

_SUFFIX = "+eds"


class EndpointsCache:
    """Applies ClusterLoadAssignment changes to the snapshots of a ``SnapshotCache``."""

    def __init__(self, cache: SnapshotCache) -> None:
        self._cache = cache
        self._updates = 0

    def update(
        self,
        assignments: Iterable[Any] = (),
        removed: Iterable[str] = (),
        *,
        group: str = DEFAULT_GROUP,
        version: str | None = None,
    ) -> Snapshot | None:
        """Upsert ``assignments`` and delete the CLAs named in ``removed`` in ``group``'s snapshot.

        The new snapshot is published and returned; its version is ``version`` or the previous one
        with its ``+eds<N>`` suffix replaced. Returns ``None`` (and publishes nothing) if the group has
        no snapshot yet: the first full snapshot must carry the endpoints.
        """
        current = self._cache.snapshot(group)
        if current is None:
            return None
        self._updates += 1
        base = current.version.split(_SUFFIX, 1)[0]
        new_version = version if version is not None else f"{base}{_SUFFIX}{self._updates}"
        snapshot = current.with_resources(new_version, typeurls.ENDPOINT, assignments, removed)
        self._cache.set_snapshot(group, snapshot)
        return snapshot
