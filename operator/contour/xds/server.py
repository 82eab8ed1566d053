"""The grpc.aio xDS server: ADS and the per-type discovery services, SotW and delta.

``await start_server(cache, "0.0.0.0", 8001, tls=TlsFiles(...))`` binds (port 0 picks a free port,
``server.port`` tells which), serves until ``await server.stop(grace)``. Services:
``envoy.service.discovery.v3.AggregatedDiscoveryService`` (StreamAggregatedResources,
DeltaAggregatedResources) and the Cluster, Endpoint, Listener, Route, Secret and Runtime discovery
services (``Stream*`` and ``Delta*``). The unary ``Fetch*`` methods are not served (UNIMPLEMENTED).

Responses are encoded by the streams from the snapshot's cached bytes and handed to gRPC as bytes;
requests are parsed by gRPC with the protobuf classes.
"""

import logging
from collections.abc import Callable
from typing import Any

import grpc
from envoy.service.discovery.v3 import discovery_pb2

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache
from contour.xds.delta import DeltaStream
from contour.xds.metrics import XdsMetrics
from contour.xds.nacks import NackRegistry
from contour.xds.sotw import SotwStream
from contour.xds.streamloop import AckHook, ServerState, StreamRefusedError, XdsStream
from contour.xds.tls import TlsFiles, server_credentials

log = logging.getLogger(__name__)

ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService"

# service name -> (SotW method, delta method, type URL)
PER_TYPE_SERVICES: dict[str, tuple[str, str, str]] = {
    "envoy.service.cluster.v3.ClusterDiscoveryService": ("StreamClusters", "DeltaClusters", typeurls.CLUSTER),
    "envoy.service.endpoint.v3.EndpointDiscoveryService": (
        "StreamEndpoints",
        "DeltaEndpoints",
        typeurls.ENDPOINT,
    ),
    "envoy.service.listener.v3.ListenerDiscoveryService": (
        "StreamListeners",
        "DeltaListeners",
        typeurls.LISTENER,
    ),
    "envoy.service.route.v3.RouteDiscoveryService": ("StreamRoutes", "DeltaRoutes", typeurls.ROUTE),
    "envoy.service.secret.v3.SecretDiscoveryService": ("StreamSecrets", "DeltaSecrets", typeurls.SECRET),
    "envoy.service.runtime.v3.RuntimeDiscoveryService": ("StreamRuntime", "DeltaRuntime", typeurls.RUNTIME),
}

# Called with (type URL, response size) just before a response is handed to gRPC (benchmarks, tests).
ResponseTap = Callable[[str, int], None]

_SERVER_OPTIONS = (
    # Find dead Envoys (Contour: 60 s keepalive, 20 s timeout) and accept Envoy's own pings.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
)


def _as_is(payload: bytes) -> bytes:
    return payload


def _method(
    stream_class: type[XdsStream],
    request_class: Any,
    fixed_type: str | None,
    state: ServerState,
    tap: ResponseTap | None,
) -> Any:
    metrics = state.metrics

    async def serve(requests: Any, context: Any) -> None:
        async def send(type_url: str, payload: bytes) -> None:
            metrics.responses.labels(type_url).inc()
            metrics.response_bytes.labels(type_url).inc(len(payload))
            if tap is not None:
                tap(type_url, len(payload))
            await context.write(payload)

        stream = stream_class(state, fixed_type=fixed_type)
        try:
            await stream.run(requests, send)
        except StreamRefusedError as refused:
            metrics.bad_requests.labels(refused.reason).inc()
            log.warning("xDS stream %d refused: %s", stream.id, refused)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(refused))

    return grpc.stream_stream_rpc_method_handler(
        serve, request_deserializer=request_class.FromString, response_serializer=_as_is
    )


def _handlers(state: ServerState, tap: ResponseTap | None) -> list[Any]:
    sotw_request, delta_request = discovery_pb2.DiscoveryRequest, discovery_pb2.DeltaDiscoveryRequest
    handlers = [
        grpc.method_handlers_generic_handler(
            ADS_SERVICE,
            {
                "StreamAggregatedResources": _method(SotwStream, sotw_request, None, state, tap),
                "DeltaAggregatedResources": _method(DeltaStream, delta_request, None, state, tap),
            },
        )
    ]
    for service, (sotw_method, delta_method, type_url) in PER_TYPE_SERVICES.items():
        methods = {
            sotw_method: _method(SotwStream, sotw_request, type_url, state, tap),
            delta_method: _method(DeltaStream, delta_request, type_url, state, tap),
        }
        handlers.append(grpc.method_handlers_generic_handler(service, methods))
    return handlers


class XdsServer:
    """A running xDS server. ``port`` is the bound port; ``nacks`` and ``metrics`` are live views."""

    def __init__(self, server: Any, address: str, port: int, state: ServerState) -> None:
        self._server = server
        self._state = state
        self.address = address
        self.port = port
        self.cache = state.cache
        self.nacks = state.nacks
        self.metrics = state.metrics

    def open_streams(self) -> int:
        """Streams currently being served."""
        return len(self._state.open_streams)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting streams; cancel open ones after ``grace`` seconds (immediately if None)."""
        await self._server.stop(grace)


async def start_server(
    cache: SnapshotCache,
    address: str = "127.0.0.1",
    port: int = 0,
    tls: TlsFiles | None = None,
    *,
    nacks: NackRegistry | None = None,
    metrics: XdsMetrics | None = None,
    on_response: ResponseTap | None = None,
    on_ack: AckHook | None = None,
) -> XdsServer:
    """Bind and start serving ``cache``. mTLS with ``tls`` (client certificates required), else insecure.

    ``on_ack(type_url, node_id, version)`` is called on the event loop for every ACK: on SotW streams
    with the ``version_info`` of the response acknowledged, on delta streams with the
    ``system_version_info`` (snapshot version) of that response. What it raises is logged and ignored.
    Raises ``RuntimeError`` if the address cannot be bound.
    """
    state = ServerState(
        cache=cache,
        nacks=nacks if nacks is not None else NackRegistry(),
        metrics=metrics if metrics is not None else XdsMetrics(),
        on_ack=on_ack,
    )
    server = grpc.aio.server(options=_SERVER_OPTIONS)
    server.add_generic_rpc_handlers(_handlers(state, on_response))
    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    if tls is None:
        bound = server.add_insecure_port(target)
    else:
        bound = server.add_secure_port(target, server_credentials(tls))
    if bound == 0:
        raise RuntimeError(f"xDS server could not bind {target}")
    await server.start()
    log.info("xDS server listening on %s:%d (%s)", address, bound, "mTLS" if tls else "insecure")
    return XdsServer(server, address, bound, state)
