"""`render_host`: the Envoy process `contour run`'s host backend runs for a Gateway, from the same
ProvisionParams that render its in-cluster fleet (so both keep one design: one xDS group per Gateway
named by node.cluster, the same listener ports, the same Envoy options).

The host backend (controller/gatewayenvoys.py) still decides what only a host can: the loopback
address when the Gateway asks for none, a free admin port, the xDS server's own address and port.
"""

from __future__ import annotations

from typing import Any

from contour.provisioner.model import HostEnvoy, ProvisionParams


def render_host(params: ProvisionParams) -> HostEnvoy:
    if params.gateway is None:
        raise ValueError("render_host needs the parameters of a Gateway (params_from_gateway)")
    gateway = params.gateway
    options: dict[str, Any] = {
        "node_id": f"envoy/{gateway.namespace}/{gateway.name}",
        "node_cluster": params.envoy_node_cluster,
        "namespace": gateway.namespace,
        "overload_max_heap": params.envoy_overload_max_heap,
    }
    return HostEnvoy(
        gateway=gateway,
        node_id=options["node_id"],
        node_cluster=params.envoy_node_cluster,
        address=params.gateway_address,
        listener_ports=params.service_ports,
        log_level=params.envoy_log_level,
        base_id=params.envoy_base_id,
        overload_max_heap=params.envoy_overload_max_heap,
        bootstrap_options=options,
    )
