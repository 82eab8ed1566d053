"""The NACKs Envoy sent, kept for the status writer, and cleared when the same node ACKs that type.

A NACK means Envoy rejected configuration we generated: always a bug (bad user input must become a
status condition, never an Envoy rejection). The registry lets the status writer show it; streams
record and clear entries, and drop their own entries when they end.
"""

import logging
from dataclasses import dataclass

from contour.xds import typeurls

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Nack:
    """One rejected response: what was sent, to whom, and Envoy's error message."""

    type_url: str
    nonce: str
    rejected_version: str
    code: int
    message: str
    node_id: str
    node_cluster: str
    resource_names: tuple[str, ...]
    stream_id: int

    @property
    def short_type(self) -> str:
        """``cds``, ``lds``, ... or the full type URL for a type this server does not serve."""
        return typeurls.SHORT_NAMES.get(self.type_url, self.type_url)


class NackRegistry:
    """The current NACK per (node id, node cluster, type URL). ``generation`` counts changes."""

    def __init__(self) -> None:
        self._nacks: dict[tuple[str, str, str], Nack] = {}
        self.generation = 0

    def record(self, nack: Nack) -> None:
        """Keep ``nack`` as the current one of its node and type, and log it."""
        self._nacks[(nack.node_id, nack.node_cluster, nack.type_url)] = nack
        self.generation += 1
        log.warning(
            "xDS NACK: node=%s cluster=%s type=%s version=%s nonce=%s resources=%s: %s",
            nack.node_id,
            nack.node_cluster,
            nack.short_type,
            nack.rejected_version,
            nack.nonce,
            ",".join(nack.resource_names),
            nack.message,
        )

    def clear(self, node_id: str, node_cluster: str, type_url: str) -> bool:
        """Forget the NACK of a node and type (it ACKed a later response). True if there was one."""
        if self._nacks.pop((node_id, node_cluster, type_url), None) is None:
            return False
        self.generation += 1
        return True

    def drop_stream(self, stream_id: int) -> None:
        """Forget the NACKs recorded by a stream that ended."""
        keys = [key for key, nack in self._nacks.items() if nack.stream_id == stream_id]
        for key in keys:
            del self._nacks[key]
        if keys:
            self.generation += 1

    def current(self) -> list[Nack]:
        """Every current NACK, sorted by node, cluster and type."""
        return [self._nacks[key] for key in sorted(self._nacks)]
