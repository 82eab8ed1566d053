"""GRPCRoute through `contour run`: a Gateway's own Envoy routes gRPC calls by method to two real
`contour echo --mode grpc` backends; a missing backend answers UNAVAILABLE and an unmatched method
UNIMPLEMENTED (what the conformance suite expects), and the route's status says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from contour.echo import grpc_messages
from tests.e2e.run_routing_support import namespace
from tests.e2e.test_run_gateway_envoys import CLASS, GATEWAY_API, NS, gateway, wait_gateway_envoy
from tests.echo.process import EchoProcess
from tests.support.contour_run import free_port, running, wait_until


def svc_with_slice(name: str, port: int) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NS},
            "spec": {
                "ports": [
                    {"name": "grpc", "port": 80, "targetPort": "grpc", "appProtocol": "kubernetes.io/h2c"}
                ]
            },
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-0",
                "namespace": NS,
                "labels": {"kubernetes.io/service-name": name},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": "grpc", "port": port, "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}],
        },
    ]


def call(channel: grpc.Channel, method: str) -> tuple[Any, str]:
    stub = channel.unary_unary(
        grpc_messages.full_method(method),
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=grpc_messages.EchoResponse.FromString,
    )
    try:
        resp = stub(grpc_messages.EchoRequest(), timeout=5)
        return grpc.StatusCode.OK, resp.assertions.context.pod
    except grpc.RpcError as e:
        return e.code(), ""


def test_grpcroute_end_to_end(tmp_path: Path) -> None:
    with (
        EchoProcess(
            "--mode", "grpc", "--port", "0", "--pod", "pod-v1", stderr_path=tmp_path / "e1.log"
        ) as e1,
        EchoProcess(
            "--mode", "grpc", "--port", "0", "--pod", "pod-v2", stderr_path=tmp_path / "e2.log"
        ) as e2,
        running(tmp_path / "state") as run,
    ):
        port = free_port()
        svc = grpc_messages.full_method("Echo").split("/")[1]
        run.apply(
            [
                namespace(NS),
                *svc_with_slice("g1", e1.ports["grpc"]),
                *svc_with_slice("g2", e2.ports["grpc"]),
                {
                    "apiVersion": GATEWAY_API,
                    "kind": "GatewayClass",
                    "metadata": {"name": CLASS},
                    "spec": {"controllerName": "projectcontour.io/gateway-controller"},
                },
                gateway("grpcgw", port),
                {
                    "apiVersion": GATEWAY_API,
                    "kind": "GRPCRoute",
                    "metadata": {"name": "exact", "namespace": NS},
                    "spec": {
                        "parentRefs": [{"name": "grpcgw"}],
                        "rules": [
                            {
                                "matches": [{"method": {"service": svc, "method": "Echo"}}],
                                "backendRefs": [{"name": "g1", "port": 80}],
                            },
                            {
                                "matches": [{"method": {"service": svc, "method": "EchoTwo"}}],
                                "backendRefs": [{"name": "g2", "port": 80}],
                            },
                            {
                                "matches": [{"method": {"service": svc, "method": "EchoThree"}}],
                                "backendRefs": [{"name": "missing", "port": 80}],
                            },
                        ],
                    },
                },
            ]
        )
        envoy = wait_gateway_envoy(run, "grpcgw")
        with grpc.insecure_channel(f"{envoy['address']}:{port}") as ch:
            wait_until(
                lambda: call(ch, "Echo"),
                lambda r: r == (grpc.StatusCode.OK, "pod-v1"),
                what="Echo->v1",
                timeout=30,
            )
            assert call(ch, "EchoTwo") == (grpc.StatusCode.OK, "pod-v2")
            assert call(ch, "EchoThree")[0] == grpc.StatusCode.UNAVAILABLE
            assert call(ch, "Nope")[0] == grpc.StatusCode.UNIMPLEMENTED
        status = run.get("grpcroutes", "exact", NS)["status"]["parents"][0]["conditions"]
        assert {c["type"]: c["status"] for c in status} == {"Accepted": "True", "ResolvedRefs": "False"}
