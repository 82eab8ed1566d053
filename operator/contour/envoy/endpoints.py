"""ClusterLoadAssignments (EDS) from Kubernetes EndpointSlices, as Contour's
`internal/xdscache/v3/endpointslicetranslator.go` computes them.

Input is the raw `discovery.k8s.io/v1` EndpointSlice dicts of one Service. Rules copied from Contour:
an endpoint is used unless `conditions.ready` is explicitly false; the endpoint's first address is
used; a slice port is used when the Service port is unnamed or the names match, and its protocol is
TCP or the Service port's; duplicates across slices are dropped. The result is sorted (slices by name,
endpoints by address) so the same slices always give the same bytes. A health port with its own name
sets every endpoint's health-check port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from google.protobuf import wrappers_pb2

from contour.dag.model import ServicePort
from contour.envoy.core import socket_address


def _ready(endpoint: Mapping[str, Any]) -> bool:
    conditions = endpoint.get("conditions") or {}
    return conditions.get("ready") is not False


def _first_address(endpoint: Mapping[str, Any]) -> str:
    addresses = endpoint.get("addresses") or [""]
    return str(addresses[0])


def _port_usable(slice_port: Mapping[str, Any], port: ServicePort) -> bool:
    if not isinstance(slice_port.get("port"), int):
        return False
    protocol = slice_port.get("protocol", "TCP")
    return protocol in ("TCP", port.protocol)


def cluster_load_assignment(
    service_name: str,
    slices: Sequence[Mapping[str, Any]],
    port: ServicePort,
    health_port: ServicePort | None = None,
) -> Any:
    """The ClusterLoadAssignment named `service_name` for `port` of the Service.

    `service_name` is the cluster's EDS name, the DAG Service's `eds_name` (`namespace/name/portname`,
    or `namespace/name` when the port is unnamed, as Contour names it).
    """
    seen: set[tuple[str, int]] = set()
    endpoints: list[Any] = []
    health_check_port = 0
    for endpoint_slice in sorted(slices, key=lambda s: str((s.get("metadata") or {}).get("name", ""))):
        if endpoint_slice.get("addressType", "IPv4") == "FQDN":
            continue
        slice_ports = [p for p in endpoint_slice.get("ports") or [] if isinstance(p, Mapping)]
        members = [e for e in endpoint_slice.get("endpoints") or [] if isinstance(e, Mapping) and _ready(e)]
        for endpoint in sorted(members, key=_first_address):
            address = _first_address(endpoint)
            if not address:
                continue
            for slice_port in slice_ports:
                if not _port_usable(slice_port, port):
                    continue
                name = slice_port.get("name")
                if health_port and health_port.name and name == health_port.name != port.name:
                    health_check_port = int(slice_port["port"])
                if port.name and name is not None and name != port.name:
                    continue
                key = (address, int(slice_port["port"]))
                if key not in seen:
                    seen.add(key)
                    endpoints.append(
                        endpoint_components_pb2.LbEndpoint(
                            endpoint=endpoint_components_pb2.Endpoint(address=socket_address(*key))
                        )
                    )
    if health_check_port:
        for lb_endpoint in endpoints:
            lb_endpoint.endpoint.health_check_config.port_value = health_check_port
    assignment = endpoint_pb2.ClusterLoadAssignment(cluster_name=service_name)
    if endpoints:
        assignment.endpoints.append(
            endpoint_components_pb2.LocalityLbEndpoints(
                lb_endpoints=endpoints, load_balancing_weight=wrappers_pb2.UInt32Value(value=1)
            )
        )
    return assignment
