"""The instance's two Services: `contour-<name>` (xDS, ClusterIP, for the Envoys) and `envoy-<name>`
(the data plane: LoadBalancer, NodePort or ClusterIP, with its annotations and externalTrafficPolicy)."""

from __future__ import annotations

from typing import Any

from contour.provisioner.model import XDS_PORT, ProvisionParams
from contour.provisioner.render_meta import metadata, selector


def render_xds_service(params: ProvisionParams) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(params, params.contour_name, component="contour"),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(params, "contour"),
            "ports": [{"name": "xds", "port": XDS_PORT, "targetPort": XDS_PORT, "protocol": "TCP"}],
        },
    }


def render_envoy_service(params: ProvisionParams) -> dict[str, Any]:
    ports = []
    for port in params.service_ports:
        entry: dict[str, Any] = {
            "name": port.name,
            "port": port.port,
            "targetPort": port.container_port,
            "protocol": port.protocol,
        }
        if port.node_port is not None and params.service_type == "NodePort":
            entry["nodePort"] = port.node_port
        ports.append(entry)
    spec: dict[str, Any] = {
        "type": params.service_type,
        "selector": selector(params, "envoy"),
        "ports": ports,
    }
    # externalTrafficPolicy is only valid for Services reachable from outside the cluster.
    if params.service_type != "ClusterIP":
        spec["externalTrafficPolicy"] = params.external_traffic_policy
    if params.ip_family_policy is not None:
        spec["ipFamilyPolicy"] = params.ip_family_policy
    if params.load_balancer_ip is not None and params.service_type == "LoadBalancer":
        spec["loadBalancerIP"] = params.load_balancer_ip
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(
            params, params.envoy_name, component="envoy", annotations=dict(params.service_annotations)
        ),
        "spec": spec,
    }
