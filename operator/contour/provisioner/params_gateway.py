"""A Gateway of ours (its GatewayClass's controllerName is Contour's) reduced to ProvisionParams.

Contour's gateway provisioner: the GatewayClass's `spec.parametersRef` may name a ContourDeployment
(projectcontour.io/v1alpha1) whose spec shapes the Contour and Envoy workloads and whose
runtimeSettings become the ContourConfiguration; the Gateway's listeners become the Envoy Service's
ports (Envoy binds each listener on its declared port) and its `spec.infrastructure` labels and
annotations go on every object. Anything unusable (another controller's class, a parametersRef to a
missing object or another kind, a value the field does not allow) is an `InvalidParameters`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, Final, Literal, cast

from pydantic import ValidationError

from contour.api.projectcontour.v1alpha1 import ContourDeploymentSpec
from contour.provisioner.model import (
    DEFAULT_CONTOUR_IMAGE,
    DEFAULT_ENVOY_IMAGE,
    GATEWAY_API_NAME_LABEL,
    GATEWAY_CONTROLLER_NAME,
    GATEWAY_NAME_LABEL,
    GATEWAY_NAMESPACE_LABEL,
    GATEWAY_PROVISIONER_MANAGER,
    MANAGED_BY_LABEL,
    GatewayRef,
    InvalidParameters,
    OwnerRef,
    ProvisionParams,
    ServicePort,
    ServiceType,
    WorkloadType,
)
from contour.provisioner.params_fields import invalid_from_validation, kind_of, node_placement, raw_at

GATEWAY_API_VERSION: Final = "gateway.networking.k8s.io/v1"
CONTOUR_DEPLOYMENT_GROUP: Final = "projectcontour.io"
CONTOUR_DEPLOYMENT_KIND: Final = "ContourDeployment"
SERVICE_TYPES: Final[dict[str, ServiceType]] = {
    "LoadBalancerService": "LoadBalancer",
    "NodePortService": "NodePort",
    "ClusterIPService": "ClusterIP",
}
WORKLOAD_TYPES: Final = ("DaemonSet", "Deployment")
TRAFFIC_POLICIES: Final = ("Cluster", "Local")
IP_FAMILY_POLICIES: Final = ("SingleStack", "PreferDualStack", "RequireDualStack")
CONTOUR_LOG_LEVELS: Final = ("info", "debug")
ENVOY_LOG_LEVELS: Final = ("trace", "debug", "info", "warn", "error", "critical", "off")
# Listener protocol -> the Envoy listener family it lands in (the DAG's http-/https-/tcp-/udp-<port>).
PORT_FAMILY: Final = {"HTTP": "http", "HTTPS": "https", "TLS": "https", "TCP": "tcp", "UDP": "udp"}
# Kubernetes' default --service-node-port-range: a listener port outside it cannot be a node port.
NODE_PORT_RANGE: Final = range(30000, 32768)


def params_from_gateway(
    gateway: Mapping[str, Any],
    gateway_class: Mapping[str, Any],
    contour_deployment: Mapping[str, Any] | None,
    *,
    controller_name: str = GATEWAY_CONTROLLER_NAME,
    contour_image: str = DEFAULT_CONTOUR_IMAGE,
    envoy_image: str = DEFAULT_ENVOY_IMAGE,
) -> ProvisionParams | InvalidParameters:
    """The parameters of `gateway` (class `gateway_class`, whose parametersRef resolved to
    `contour_deployment`, None when it has none or it was not found), or why it cannot be provisioned."""
    meta = gateway.get("metadata") or {}
    spec = gateway.get("spec") or {}
    if gateway.get("kind") != "Gateway" or not meta.get("name") or not meta.get("namespace"):
        return InvalidParameters(
            "kind", f"expected a Gateway with a name and namespace, got {kind_of(gateway)}"
        )
    class_meta = gateway_class.get("metadata") or {}
    class_spec = gateway_class.get("spec") or {}
    if spec.get("gatewayClassName") != class_meta.get("name"):
        return InvalidParameters(
            "spec.gatewayClassName",
            f"Gateway class {spec.get('gatewayClassName')!r} is not GatewayClass {class_meta.get('name')!r}",
        )
    if class_spec.get("controllerName") != controller_name:
        return InvalidParameters(
            "spec.controllerName",
            f"GatewayClass {class_meta.get('name')} is controlled by {class_spec.get('controllerName')!r},"
            f" not {controller_name}",
        )
    deployment = class_parameters(gateway_class, contour_deployment)
    if isinstance(deployment, InvalidParameters):
        return deployment
    name, namespace = str(meta["name"]), str(meta["namespace"])
    ports = _listener_ports(spec.get("listeners") or [])
    if isinstance(ports, InvalidParameters):
        return ports
    infrastructure = spec.get("infrastructure") or {}
    resource_labels = dict(deployment.get("resourceLabels") or {})
    labels = {
        MANAGED_BY_LABEL: GATEWAY_PROVISIONER_MANAGER,
        GATEWAY_NAME_LABEL: name,
        GATEWAY_NAMESPACE_LABEL: namespace,
    }
    base = ProvisionParams(
        name=name,
        namespace=namespace,
        owner=OwnerRef(
            str(gateway.get("apiVersion") or GATEWAY_API_VERSION), "Gateway", name, str(meta.get("uid") or "")
        ),
        owner_namespace=namespace,
        instance_labels=labels,
        managed_by=GATEWAY_PROVISIONER_MANAGER,
        contour_image=contour_image,
        envoy_image=envoy_image,
        service_ports=ports,
        load_balancer_ip=_requested_ip(spec.get("addresses") or []),
        extra_labels={
            **resource_labels,
            **dict(infrastructure.get("labels") or {}),
            GATEWAY_API_NAME_LABEL: name,
        },
        extra_annotations=dict(infrastructure.get("annotations") or {}),
        gateway=GatewayRef(namespace, name),
        gateway_address=_requested_ip(spec.get("addresses") or []),
        gateway_controller_name=controller_name,
    )
    return _apply_deployment(base, deployment)


def class_parameters(
    gateway_class: Mapping[str, Any], contour_deployment: Mapping[str, Any] | None
) -> Mapping[str, Any] | InvalidParameters:
    """The spec of the ContourDeployment the class's parametersRef names ({} without one), once it
    resolves and every field is usable; else why not (the GatewayClass's and its Gateways' status)."""
    found = _contour_deployment(
        (gateway_class.get("metadata") or {}).get("name"),
        (gateway_class.get("spec") or {}).get("parametersRef"),
        contour_deployment,
    )
    if isinstance(found, InvalidParameters):
        return found
    problem = _check_deployment(found)
    return problem if problem is not None else found


def _contour_deployment(
    class_name: Any, ref: Any, deployment: Mapping[str, Any] | None
) -> Mapping[str, Any] | InvalidParameters:
    """The ContourDeployment's spec ({} when the class has no parametersRef), checked against the ref."""
    if not ref:
        return {}
    where = f"GatewayClass {class_name}: spec.parametersRef"
    if ref.get("group") != CONTOUR_DEPLOYMENT_GROUP or ref.get("kind") != CONTOUR_DEPLOYMENT_KIND:
        return InvalidParameters(
            "spec.parametersRef",
            f"{where} refers to {ref.get('group')}/{ref.get('kind')}, not"
            f" {CONTOUR_DEPLOYMENT_GROUP}/{CONTOUR_DEPLOYMENT_KIND}",
        )
    if not ref.get("namespace"):
        return InvalidParameters(
            "spec.parametersRef.namespace", f"{where}: a ContourDeployment is namespaced"
        )
    wanted = f"{ref.get('namespace')}/{ref.get('name')}"
    if deployment is None:
        return InvalidParameters("spec.parametersRef", f"{where}: ContourDeployment {wanted} not found")
    meta = deployment.get("metadata") or {}
    if (
        deployment.get("kind") != CONTOUR_DEPLOYMENT_KIND
        or f"{meta.get('namespace')}/{meta.get('name')}" != wanted
    ):
        return InvalidParameters(
            "spec.parametersRef", f"{where} names ContourDeployment {wanted}, given {kind_of(deployment)}"
        )
    raw_spec = deployment.get("spec") or {}
    try:
        ContourDeploymentSpec.model_validate(dict(raw_spec))
    except ValidationError as error:
        found = invalid_from_validation(error, prefix="spec")
        return InvalidParameters(found.field, f"ContourDeployment {wanted}: {found.message}")
    return cast(Mapping[str, Any], copy.deepcopy(dict(raw_spec)))


def _check_deployment(spec: Mapping[str, Any]) -> InvalidParameters | None:
    """The first value of ContourDeployment spec `spec` (schema-checked) the provisioner cannot use."""
    contour = raw_at(spec, "contour")
    envoy = raw_at(spec, "envoy")
    publishing = raw_at(envoy, "networkPublishing")
    checks: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
        ("spec.contour.logLevel", contour.get("logLevel"), CONTOUR_LOG_LEVELS),
        ("spec.envoy.logLevel", envoy.get("logLevel"), ENVOY_LOG_LEVELS),
        ("spec.envoy.workloadType", envoy.get("workloadType"), WORKLOAD_TYPES),
        ("spec.envoy.networkPublishing.type", publishing.get("type"), tuple(SERVICE_TYPES)),
        (
            "spec.envoy.networkPublishing.externalTrafficPolicy",
            publishing.get("externalTrafficPolicy"),
            TRAFFIC_POLICIES,
        ),
        ("spec.envoy.networkPublishing.ipFamilyPolicy", publishing.get("ipFamilyPolicy"), IP_FAMILY_POLICIES),
    )
    for field, value, allowed in checks:
        if value is not None and value not in allowed:
            return InvalidParameters(field, f"{field}: {value!r} is not one of {', '.join(allowed)}")
    for field, value in (
        ("spec.envoy.overloadMaxHeapSize", envoy.get("overloadMaxHeapSize")),
        ("spec.envoy.baseID", envoy.get("baseID")),
    ):
        if value is not None and value < 0:
            return InvalidParameters(field, f"{field}: {value} is negative")
    return None


def _apply_deployment(base: ProvisionParams, spec: Mapping[str, Any]) -> ProvisionParams:
    """`base` with what ContourDeployment spec `spec` (checked by `class_parameters`) sets."""
    contour = raw_at(spec, "contour")
    envoy = raw_at(spec, "envoy")
    publishing = raw_at(envoy, "networkPublishing")
    service_type = SERVICE_TYPES[publishing.get("type") or "LoadBalancerService"]
    ports = base.service_ports
    if service_type == "NodePort":
        ports = tuple(
            ServicePort(
                p.name, p.port, p.container_port, p.protocol, p.port if p.port in NODE_PORT_RANGE else None
            )
            for p in ports
        )
    workload = cast(WorkloadType, envoy.get("workloadType") or "DaemonSet")
    volumes = tuple(envoy.get("extraVolumes") or ())
    mounts = tuple(envoy.get("extraVolumeMounts") or ())
    return dataclasses.replace(
        base,
        contour_replicas=_replicas(contour),
        contour_debug=contour.get("logLevel") == "debug",
        contour_resources=raw_at(contour, "resources"),
        contour_node_placement=node_placement(raw_at(contour, "nodePlacement")),
        contour_pod_annotations=dict(contour.get("podAnnotations") or {}),
        contour_strategy=raw_at(contour, "deployment", "strategy"),
        watch_namespaces=tuple(sorted(set(contour.get("watchNamespaces") or ()))),
        cert_lifetime_days=int(contour.get("certLifetime") or 365),
        envoy_workload=workload,
        envoy_replicas=_replicas(envoy),
        envoy_log_level=str(envoy.get("logLevel") or "info"),
        envoy_resources=raw_at(envoy, "resources"),
        envoy_node_placement=node_placement(raw_at(envoy, "nodePlacement")),
        envoy_pod_annotations=dict(envoy.get("podAnnotations") or {}),
        envoy_update_strategy=(
            raw_at(envoy, "daemonSet", "updateStrategy")
            if workload == "DaemonSet"
            else raw_at(envoy, "deployment", "strategy")
        ),
        envoy_extra_volumes=tuple(copy.deepcopy(dict(v)) for v in volumes),
        envoy_extra_volume_mounts=tuple(copy.deepcopy(dict(m)) for m in mounts),
        envoy_base_id=int(envoy.get("baseID") or 0),
        envoy_overload_max_heap=int(envoy.get("overloadMaxHeapSize") or 0),
        service_type=service_type,
        external_traffic_policy=cast(
            Literal["Cluster", "Local"], publishing.get("externalTrafficPolicy") or "Local"
        ),
        ip_family_policy=publishing.get("ipFamilyPolicy"),
        service_annotations=dict(publishing.get("serviceAnnotations") or {}),
        service_ports=ports,
        load_balancer_ip=base.load_balancer_ip if service_type == "LoadBalancer" else None,
        contour_config=raw_at(spec, "runtimeSettings"),
    )


def _replicas(settings: Mapping[str, Any]) -> int:
    """deployment.replicas, else the deprecated replicas, else 2 (Contour's order)."""
    nested = raw_at(settings, "deployment").get("replicas")
    if nested is not None:
        return int(nested)
    return int(settings["replicas"]) if settings.get("replicas") is not None else 2


def _listener_ports(listeners: list[Any]) -> tuple[ServicePort, ...] | InvalidParameters:
    """One Service port per (port, transport) of the listeners; Envoy binds the declared port."""
    by_key: dict[tuple[int, str], ServicePort] = {}
    for i, listener in enumerate(listeners):
        protocol = str(listener.get("protocol") or "")
        family = PORT_FAMILY.get(protocol)
        port = listener.get("port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            return InvalidParameters(f"spec.listeners[{i}].port", f"listener port {port!r} is not 1-65535")
        if family is None:
            continue  # the controller reports UnsupportedProtocol on the listener; nothing to publish
        transport: Literal["TCP", "UDP"] = "UDP" if family == "udp" else "TCP"
        by_key.setdefault((port, transport), ServicePort(f"{family}-{port}", port, port, transport))
    return tuple(by_key[key] for key in sorted(by_key))


def _requested_ip(addresses: list[Any]) -> str | None:
    """The first IPAddress of spec.addresses (Contour makes it the load balancer IP)."""
    for address in addresses:
        if isinstance(address, Mapping) and (address.get("type") or "IPAddress") == "IPAddress":
            value = address.get("value")
            return str(value) if value else None
    return None
