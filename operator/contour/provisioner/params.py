"""A Contour custom resource (operator.projectcontour.io/v1alpha1) reduced to ProvisionParams.

The spec is checked with the generated model (the CRD's own schema: enums, minimums, unknown fields)
and then with the rules the schema cannot say (one port per listener, node ports only with NodePort,
container ports agreeing with `spec.config`). Any failure is an `InvalidParameters` naming the field,
never an exception. `params_from_gateway` (params_gateway.py) is re-exported here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from contour.api.operator.v1alpha1 import ContourSpec
from contour.provisioner.model import (
    CONTOUR_NAME_LABEL,
    CONTOUR_NAMESPACE_LABEL,
    DEFAULT_CONTOUR_IMAGE,
    DEFAULT_ENVOY_IMAGE,
    MANAGED_BY_LABEL,
    OPERATOR_MANAGER,
    InvalidParameters,
    OwnerRef,
    ProvisionParams,
    ServicePort,
)
from contour.provisioner.params_fields import int_at, invalid_from_validation, kind_of, node_placement, raw_at
from contour.provisioner.params_gateway import params_from_gateway

__all__ = ["params_from_contour", "params_from_gateway"]

CONTOUR_API_VERSION: Final = "operator.projectcontour.io/v1alpha1"
CONTOUR_KIND: Final = "Contour"
# Envoy's listener ports when neither networkPublishing.ports nor spec.config say (Contour's).
DEFAULT_CONTAINER_PORTS: Final = {"http": 8080, "https": 8443}
DEFAULT_SERVICE_PORTS: Final = {"http": 80, "https": 443}


def params_from_contour(
    cr: Mapping[str, Any],
    *,
    contour_image: str = DEFAULT_CONTOUR_IMAGE,
    envoy_image: str = DEFAULT_ENVOY_IMAGE,
) -> ProvisionParams | InvalidParameters:
    """The parameters of Contour CR `cr` (a JSON-shaped object), or why it cannot be provisioned."""
    if cr.get("apiVersion") != CONTOUR_API_VERSION or cr.get("kind") != CONTOUR_KIND:
        return InvalidParameters("kind", f"expected a {CONTOUR_API_VERSION} Contour, got {kind_of(cr)}")
    meta = cr.get("metadata")
    if not isinstance(meta, Mapping) or not meta.get("name") or not meta.get("namespace"):
        return InvalidParameters("metadata", "a Contour needs metadata.name and metadata.namespace")
    raw_spec = cr.get("spec") or {}
    if not isinstance(raw_spec, Mapping):
        return InvalidParameters("spec", "spec must be an object")
    try:
        spec = ContourSpec.model_validate(dict(raw_spec))
    except ValidationError as error:
        return invalid_from_validation(error, prefix="spec")
    name, cr_namespace = str(meta["name"]), str(meta["namespace"])
    namespace = spec.namespace or "projectcontour"
    contour = spec.contour if spec.contour is not None else ContourSpec().contour
    envoy = spec.envoy if spec.envoy is not None else ContourSpec().envoy
    assert contour is not None and envoy is not None
    publishing = envoy.network_publishing
    raw_config: Mapping[str, Any] = raw_spec.get("config") or {}
    ports = _service_ports(raw_spec, raw_config)
    if isinstance(ports, InvalidParameters):
        return ports
    service_type = (publishing.type if publishing is not None else None) or "LoadBalancer"
    if service_type != "NodePort":
        for i, port in enumerate(ports):
            if port.node_port:
                return InvalidParameters(
                    f"spec.envoy.networkPublishing.ports[{i}].nodePort",
                    f"spec.envoy.networkPublishing.ports[{i}].nodePort: a node port can only be set when"
                    " spec.envoy.networkPublishing.type is NodePort",
                )
    labels = {
        MANAGED_BY_LABEL: OPERATOR_MANAGER,
        CONTOUR_NAME_LABEL: name,
        CONTOUR_NAMESPACE_LABEL: cr_namespace,
    }
    return ProvisionParams(
        name=name,
        namespace=namespace,
        owner=OwnerRef(CONTOUR_API_VERSION, CONTOUR_KIND, name, str(meta.get("uid") or "")),
        owner_namespace=cr_namespace,
        instance_labels=labels,
        managed_by=OPERATOR_MANAGER,
        # The CR's own namespace exists already and is not ours to delete.
        create_namespace=namespace != cr_namespace,
        contour_image=contour_image,
        envoy_image=envoy_image,
        contour_replicas=contour.replicas if contour.replicas is not None else 2,
        contour_debug=contour.log_level == "debug",
        contour_resources=raw_at(raw_spec, "contour", "resources"),
        contour_node_placement=node_placement(raw_at(raw_spec, "contour", "nodePlacement")),
        contour_health_port=int_at(raw_config, ("health", "port"), 8000),
        contour_metrics_port=int_at(raw_config, ("metrics", "port"), 8000),
        envoy_workload=envoy.workload_type or "DaemonSet",
        envoy_replicas=envoy.replicas if envoy.replicas is not None else 2,
        envoy_log_level=envoy.log_level or "info",
        envoy_resources=raw_at(raw_spec, "envoy", "resources"),
        envoy_node_placement=node_placement(raw_at(raw_spec, "envoy", "nodePlacement")),
        envoy_health_port=int_at(raw_config, ("envoy", "health", "port"), 8002),
        service_type=service_type,
        external_traffic_policy=(publishing.external_traffic_policy if publishing else None) or "Local",
        service_annotations=dict(raw_at(raw_spec, "envoy", "networkPublishing", "serviceAnnotations")),
        service_ports=ports,
        contour_config=copy.deepcopy(dict(raw_config)),
        ingress_class_name=spec.ingress_class_name,
        gateway_controller_name=spec.gateway_controller_name,
    )


def _service_ports(
    raw_spec: Mapping[str, Any], raw_config: Mapping[str, Any]
) -> tuple[ServicePort, ...] | InvalidParameters:
    """The Envoy Service's ports: networkPublishing.ports (http 80 and https 443 when unset), each
    targeting Envoy's listener port, which spec.config.envoy.http(s).port may also give."""
    given = raw_at(raw_spec, "envoy", "networkPublishing").get("ports")
    entries: list[Mapping[str, Any]] = (
        list(given)
        if given
        else [{"name": n, "servicePort": p} for n, p in sorted(DEFAULT_SERVICE_PORTS.items())]
    )
    seen: set[str] = set()
    out = []
    for i, entry in enumerate(entries):
        path = f"spec.envoy.networkPublishing.ports[{i}]"
        listener = str(entry["name"])
        if listener in seen:
            return InvalidParameters(f"{path}.name", f"{path}.name: listener {listener} is published twice")
        seen.add(listener)
        configured = int_at(raw_config, ("envoy", listener, "port"), 0)
        container = int(entry.get("containerPort") or 0)
        if container and configured and container != configured:
            return InvalidParameters(
                f"{path}.containerPort",
                f"{path}.containerPort: {container} differs from"
                f" spec.config.envoy.{listener}.port ({configured})",
            )
        out.append(
            ServicePort(
                name=listener,
                port=int(entry["servicePort"]),
                container_port=container or configured or DEFAULT_CONTAINER_PORTS[listener],
                node_port=int(entry.get("nodePort") or 0) or None,
            )
        )
    return tuple(sorted(out, key=lambda p: p.name))
