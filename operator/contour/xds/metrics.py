"""Prometheus metrics of the xDS server, registered on a registry the caller passes in.

Tests give each server its own ``CollectorRegistry``; ``contour serve`` passes the process registry it
exposes on /metrics.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge


class XdsMetrics:
    """Open streams, responses sent, bytes sent, NACKs and bad requests."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.open_streams = Gauge(
            "contour_xds_open_streams",
            "xDS streams currently open, by protocol variant (sotw or delta).",
            ["variant"],
            registry=self.registry,
        )
        self.responses = Counter(
            "contour_xds_responses",
            "xDS responses sent, by type URL.",
            ["type_url"],
            registry=self.registry,
        )
        self.response_bytes = Counter(
            "contour_xds_response_bytes",
            "Bytes of xDS responses handed to gRPC, by type URL.",
            ["type_url"],
            registry=self.registry,
        )
        self.nacks = Counter(
            "contour_xds_nack",
            "xDS responses Envoy rejected (NACK), by type URL.",
            ["type_url"],
            registry=self.registry,
        )
        self.bad_requests = Counter(
            "contour_xds_bad_requests",
            "xDS requests ignored or refused because they were malformed, by reason.",
            ["reason"],
            registry=self.registry,
        )

    def sample(self, name: str, **labels: str) -> float:
        """The current value of one sample (e.g. ``contour_xds_nack_total``), 0 if absent."""
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value
