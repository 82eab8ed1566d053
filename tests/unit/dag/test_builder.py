"""Builder and ListenerProcessor: the listeners every build starts with, and determinism."""

from __future__ import annotations

from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache

from .fixtures import build


def test_listeners_from_config() -> None:
    cfg = BuilderConfig(http_address="127.0.0.1", http_port=18080, https_address="::", https_port=18443)
    dag = build(config=cfg).dag
    http, https = dag.listeners["ingress_http"], dag.listeners["ingress_https"]
    assert (http.protocol, http.address, http.port) == ("http", "127.0.0.1", 18080)
    assert (https.protocol, https.address, https.port) == ("https", "::", 18443)


def test_empty_cache_builds_empty_listeners_and_no_status() -> None:
    result = build()
    assert all(
        not lst.virtual_hosts and not lst.secure_virtual_hosts for lst in result.dag.listeners.values()
    )
    assert result.statuses == []


def test_default_processors_build() -> None:
    result = Builder(BuilderConfig()).build(KubernetesCache())
    assert set(result.dag.listeners) == {"ingress_http", "ingress_https"}
