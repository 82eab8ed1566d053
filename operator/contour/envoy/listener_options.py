"""Listener-wide options from the Contour configuration, applied to every ingress listener.

As Contour 1.33 builds them (`internal/xdscache/v3/listener.go`, `internal/envoy/v3/socket_options.go`,
`internal/xdscache/v3/runtime.go`):

* socket options: TCP keep-alive on every listening socket, plus IP_TOS (IPv4) and IPV6_TCLASS
  (IPv6) when configured non-zero;
* `per_connection_buffer_limit_bytes`, the `exact` connection balancer and
  `max_connections_to_accept_per_socket_event` on the Listener message;
* two options live in the runtime layer instead: `http.max_requests_per_io_cycle`, and
  `maxConnectionsPerListener` as `envoy.resource_limits.listener.<name>.connection_limit` for every
  listener of the DAG.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from envoy.config.core.v3 import socket_option_pb2

MAX_REQUESTS_PER_IO_CYCLE_KEY: Final = "http.max_requests_per_io_cycle"

# Linux socket option numbers: <netinet/in.h> IPPROTO_IP/IP_TOS, IPPROTO_IPV6/IPV6_TCLASS,
# <sys/socket.h> SOL_SOCKET/SO_KEEPALIVE, <netinet/tcp.h> TCP_KEEPIDLE/INTVL/CNT.
_IPPROTO_IP, _IP_TOS = 0, 1
_IPPROTO_IPV6, _IPV6_TCLASS = 41, 67
_SOL_SOCKET, _SO_KEEPALIVE, _IPPROTO_TCP = 1, 9, 6
_TCP_KEEPIDLE, _TCP_KEEPINTVL, _TCP_KEEPCNT = 4, 5, 6


@dataclass(frozen=True)
class ListenerOptions:
    """The options of the Listener message itself; None/0/"" leaves Envoy's default."""

    per_connection_buffer_limit_bytes: int | None = None
    connection_balancer: str = ""  # "" or "exact"
    max_connections_to_accept_per_socket_event: int | None = None
    socket_tos: int = 0
    socket_traffic_class: int = 0


def _option(description: str, level: int, name: int, value: int) -> Any:
    return socket_option_pb2.SocketOption(
        description=description,
        level=level,
        name=name,
        int_value=value,
        state=socket_option_pb2.SocketOption.STATE_LISTENING,
    )


def socket_options(tos: int = 0, traffic_class: int = 0) -> list[Any]:
    """Contour's keep-alive (idle 45 s, every 5 s, 9 probes), then TOS and traffic class if set."""
    options = [
        _option("Enable TCP keep-alive", _SOL_SOCKET, _SO_KEEPALIVE, 1),
        _option("TCP keep-alive initial idle time", _IPPROTO_TCP, _TCP_KEEPIDLE, 45),
        _option("TCP keep-alive time between probes", _IPPROTO_TCP, _TCP_KEEPINTVL, 5),
        _option("TCP keep-alive probe count", _IPPROTO_TCP, _TCP_KEEPCNT, 9),
    ]
    if tos:
        options.append(_option("Set IPv4 TOS field", _IPPROTO_IP, _IP_TOS, tos))
    if traffic_class:
        options.append(_option("Set IPv6 Traffic Class field", _IPPROTO_IPV6, _IPV6_TCLASS, traffic_class))
    return options


def apply_listener_options(listener: Any, options: ListenerOptions) -> Any:
    """`listener` with the configured options set on it (the same message, for chaining)."""
    listener.socket_options.extend(socket_options(options.socket_tos, options.socket_traffic_class))
    if options.per_connection_buffer_limit_bytes is not None:
        listener.per_connection_buffer_limit_bytes.value = options.per_connection_buffer_limit_bytes
    if options.connection_balancer == "exact":
        listener.connection_balance_config.exact_balance.SetInParent()
    if options.max_connections_to_accept_per_socket_event is not None:
        listener.max_connections_to_accept_per_socket_event.value = (
            options.max_connections_to_accept_per_socket_event
        )
    return listener


def listener_runtime_settings(
    listener_names: Iterable[str],
    *,
    max_requests_per_io_cycle: int | None = None,
    max_connections_per_listener: int | None = None,
) -> dict[str, float]:
    """The runtime keys Contour manages for listeners (absent when the option is not set)."""
    settings: dict[str, float] = {}
    if max_requests_per_io_cycle:
        settings[MAX_REQUESTS_PER_IO_CYCLE_KEY] = float(max_requests_per_io_cycle)
    if max_connections_per_listener:
        for name in sorted(listener_names):
            key = f"envoy.resource_limits.listener.{name}.connection_limit"
            settings[key] = float(max_connections_per_listener)
    return settings
