"""`contour run --admin-port 0`: the port written into Envoy's bootstrap is a real one.

The bootstrap's `envoy-admin` cluster (what the stats listener's /ready and /stats/prometheus proxy
to) must name the port Envoy's admin listens on; with 0 left in place it pointed at port 0 and the
stats listener answered 503 (found by tests/e2e/test_run_routing.py).
"""

from __future__ import annotations

import socket

from contour.controller.localrun import concrete_admin_port


def test_a_given_admin_port_is_kept() -> None:
    assert concrete_admin_port(9001) == 9001


def test_admin_port_zero_becomes_a_free_loopback_port() -> None:
    port = concrete_admin_port(0)
    assert 0 < port <= 65535
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))  # still free: Envoy can take it
