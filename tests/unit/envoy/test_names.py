"""Resource names and the Go spellings they hash, against values Contour produces."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from contour.dag.model import (
    HealthCheckPolicy,
    LoadBalancerPolicy,
    ObjectRef,
    Protocol,
    Secret,
    SlowStartConfig,
)
from contour.envoy.durations import go_duration_string
from contour.envoy.names import alt_stat_name, cluster_name, hashname, secret_name
from tests.unit.envoy.builders import upstream


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (2, "2s"),
        (1.5, "1.5s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (0.25, "250ms"),
        (0.0015, "1.5ms"),
        (0.000002, "2µs"),
    ],
    ids=str,
)
def test_go_duration_string(seconds: float, text: str) -> None:
    assert go_duration_string(seconds) == text


def test_default_cluster_name_hashes_the_empty_string() -> None:
    # sha1("") starts with da39a3ee5e: Contour's name for a cluster with no options.
    assert cluster_name(upstream("kuard")) == "default/kuard/80/da39a3ee5e"


@pytest.mark.parametrize(
    ("options", "hashed"),
    [
        ({"load_balancer_policy": LoadBalancerPolicy("Cookie")}, "Cookie"),
        ({"protocol": Protocol.H2C}, "h2c"),
        ({"protocol": Protocol.TLS, "sni": "a.example.com"}, "tlsa.example.com"),
        ({"idle_connection_timeout_seconds": 90}, "1m30s"),
        ({"slow_start": SlowStartConfig(5, 1.5, 20)}, "5s1.50000020"),
        ({"health_check_policy": HealthCheckPolicy(path="/hc", interval_seconds=5)}, "5s/hc"),
    ],
    ids=["cookie", "h2c", "tls-sni", "idle-timeout", "slow-start", "health-check"],
)
def test_cluster_name_hashes_the_options_contour_hashes(options: dict[str, Any], hashed: str) -> None:
    expected = hashlib.sha1(hashed.encode(), usedforsecurity=False).hexdigest()[:10]
    assert cluster_name(upstream("kuard", **options)) == f"default/kuard/80/{expected}"


def test_alt_stat_name() -> None:
    assert alt_stat_name(upstream("kuard", 8080).upstream) == "default_kuard_8080"


def test_secret_name_changes_with_the_certificate() -> None:
    first = Secret(ObjectRef("default", "tls"), cert=b"one", key=b"k")
    second = Secret(ObjectRef("default", "tls"), cert=b"two", key=b"k")
    assert secret_name(first).startswith("default/tls/")
    assert secret_name(first) != secret_name(second)


def test_hashname_keeps_short_names() -> None:
    assert hashname(60, "default", "kuard", "80") == "default/kuard/80"


def test_hashname_truncates_from_the_last_element() -> None:
    name = hashname(20, "namespace", "a-very-long-service-name", "80")
    assert len(name) < 20
    assert name.startswith("namespa")


def test_hashname_falls_back_to_the_hash() -> None:
    assert hashname(2, "aaaa", "bbbb") == hashname(2, "aaaa", "bbbb")
    assert len(hashname(2, "aaaa", "bbbb")) == 2
