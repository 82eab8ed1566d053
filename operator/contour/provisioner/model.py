"""The operator's desired-state model: what the renderers take (ProvisionParams) and give (DesiredState).

A Contour CR and a Gateway (with its GatewayClass's ContourDeployment) both reduce to one
`ProvisionParams`: every decision about the object set is taken while building it (params.py,
params_gateway.py), so the renderers (render*.py) are plain functions of it. Nothing here does I/O
or reads a clock; the reconciler adds the xDS certificates (`XdsCertificates`), which it generates
and rotates, and applies what `render` returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from contour import __version__

WorkloadType = Literal["DaemonSet", "Deployment"]
ServiceType = Literal["LoadBalancer", "NodePort", "ClusterIP"]

# The controllerName of the GatewayClasses the gateway provisioner serves (Contour's).
GATEWAY_CONTROLLER_NAME: Final = "projectcontour.io/gateway-controller"
# Images when the operator is not told otherwise (`contour operator --contour-image/--envoy-image`).
DEFAULT_CONTOUR_IMAGE: Final = f"contour-py:{__version__}"  # the Dockerfile's image, as config/ tags it
DEFAULT_ENVOY_IMAGE: Final = "docker.io/envoyproxy/envoy:distroless-v1.40.0"  # the Envoy the tests run

# Field managers (and app.kubernetes.io/managed-by values) of the two reconcilers.
OPERATOR_MANAGER: Final = "contour-operator"
GATEWAY_PROVISIONER_MANAGER: Final = "contour-gateway-provisioner"

# Labels selecting what one instance owns (the reconciler prunes by them).
MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
CONTOUR_NAME_LABEL: Final = "contour.operator.projectcontour.io/owning-contour-name"
CONTOUR_NAMESPACE_LABEL: Final = "contour.operator.projectcontour.io/owning-contour-namespace"
GATEWAY_NAME_LABEL: Final = "projectcontour.io/owning-gateway-name"
GATEWAY_NAMESPACE_LABEL: Final = "projectcontour.io/owning-gateway-namespace"
# Gateway API asks implementations to label what they create for a Gateway with its name.
GATEWAY_API_NAME_LABEL: Final = "gateway.networking.k8s.io/gateway-name"

# Fixed ports and paths of the rendered pods (Contour's).
XDS_PORT: Final = 8001
SHUTDOWN_MANAGER_PORT: Final = 8090
CERTS_DIR: Final = "/certs"
CONFIG_DIR: Final = "/config"
ADMIN_DIR: Final = "/admin"


@dataclass(frozen=True)
class OwnerRef:
    api_version: str
    kind: str
    name: str
    uid: str


@dataclass(frozen=True)
class XdsCertificates:
    """PEMs of the xDS mTLS pair: Contour serves with its pair, Envoy presents its pair, both trust `ca`."""

    ca_pem: str
    contour_cert_pem: str
    contour_key_pem: str
    envoy_cert_pem: str
    envoy_key_pem: str


@dataclass(frozen=True)
class InvalidParameters:
    """Why a Contour CR or a Gateway cannot be rendered; `field` is a path in the object `message` names."""

    field: str
    message: str


@dataclass(frozen=True)
class GatewayRef:
    namespace: str
    name: str


@dataclass(frozen=True)
class ServicePort:
    """One port of the Envoy Service, and the port Envoy listens on for it."""

    name: str
    port: int
    container_port: int
    protocol: Literal["TCP", "UDP"] = "TCP"
    node_port: int | None = None


@dataclass(frozen=True)
class NodePlacement:
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class ProvisionParams:
    """Everything rendering needs for one instance (a Contour CR or a Gateway)."""

    name: str  # the Contour CR's or the Gateway's name
    namespace: str  # where the namespaced objects are created
    owner: OwnerRef
    owner_namespace: str  # the owner's namespace: ownerReferences only work within it
    instance_labels: Mapping[str, str]
    managed_by: str
    create_namespace: bool = False
    contour_image: str = DEFAULT_CONTOUR_IMAGE
    envoy_image: str = DEFAULT_ENVOY_IMAGE
    # contour serve
    contour_replicas: int = 2
    contour_debug: bool = False
    contour_resources: Mapping[str, Any] = field(default_factory=dict)
    contour_node_placement: NodePlacement = field(default_factory=NodePlacement)
    contour_pod_annotations: Mapping[str, str] = field(default_factory=dict)
    contour_strategy: Mapping[str, Any] = field(default_factory=dict)
    contour_health_port: int = 8000
    contour_metrics_port: int = 8000
    watch_namespaces: tuple[str, ...] = ()
    # Envoy
    envoy_workload: WorkloadType = "DaemonSet"
    envoy_replicas: int = 2
    envoy_log_level: str = "info"
    envoy_resources: Mapping[str, Any] = field(default_factory=dict)
    envoy_node_placement: NodePlacement = field(default_factory=NodePlacement)
    envoy_pod_annotations: Mapping[str, str] = field(default_factory=dict)
    envoy_update_strategy: Mapping[str, Any] = field(default_factory=dict)
    envoy_extra_volumes: tuple[Mapping[str, Any], ...] = ()
    envoy_extra_volume_mounts: tuple[Mapping[str, Any], ...] = ()
    envoy_base_id: int = 0
    envoy_overload_max_heap: int = 0
    envoy_health_port: int = 8002  # Envoy's /ready and /stats listener
    # The Envoy Service
    service_type: ServiceType = "LoadBalancer"
    external_traffic_policy: Literal["Cluster", "Local"] = "Local"
    ip_family_policy: str | None = None
    service_annotations: Mapping[str, str] = field(default_factory=dict)
    service_ports: tuple[ServicePort, ...] = ()
    load_balancer_ip: str | None = None
    # Labels/annotations on every object (Gateway spec.infrastructure, ContourDeployment resourceLabels).
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    extra_annotations: Mapping[str, str] = field(default_factory=dict)
    # The ContourConfiguration's spec before the provisioner's own settings are merged in.
    contour_config: Mapping[str, Any] = field(default_factory=dict)
    ingress_class_name: str | None = None
    gateway_controller_name: str | None = None
    gateway: GatewayRef | None = None  # the Gateway this instance serves (gateway provisioner)
    gateway_address: str | None = None  # the first IPAddress of the Gateway's spec.addresses
    cert_lifetime_days: int = 365  # for the reconciler's certificate generation

    # -- object names (Contour's gateway provisioner's scheme, for both kinds of instance) -----------

    @property
    def contour_name(self) -> str:
        """The contour Deployment, its ServiceAccount and its xDS Service."""
        return f"contour-{self.name}"

    @property
    def envoy_name(self) -> str:
        """The Envoy DaemonSet/Deployment, its ServiceAccount and its Service."""
        return f"envoy-{self.name}"

    @property
    def contour_cert_secret(self) -> str:
        return f"contourcert-{self.name}"

    @property
    def envoy_cert_secret(self) -> str:
        return f"envoycert-{self.name}"

    @property
    def config_name(self) -> str:
        return f"contourconfig-{self.name}"

    @property
    def leader_election_lease(self) -> str:
        return f"leader-elect-{self.name}"

    @property
    def cluster_role_name(self) -> str:
        """Cluster-scoped names carry the namespace: instances in two namespaces may share a name."""
        return f"contour-{self.namespace}-{self.name}"

    @property
    def envoy_node_cluster(self) -> str:
        """node.cluster of the Envoys: a Gateway's xDS group (dag.gatewayapi_names.gateway_group) or,
        as Contour does, the namespace (the controller's default group)."""
        if self.gateway is not None:
            return f"gateway/{self.gateway.namespace}/{self.gateway.name}"
        return self.namespace


@dataclass(frozen=True)
class DesiredState:
    objects: tuple[dict[str, Any], ...]  # complete manifests, deterministic order
    instance_labels: dict[str, str]  # on every object: selects what this instance owns (pruning)


@dataclass(frozen=True)
class HostEnvoy:
    """The Envoy process `contour run`'s host backend runs for one Gateway (the in-cluster Envoy
    fleet's counterpart): its xDS identity, where it listens, and its `contour bootstrap` options."""

    gateway: GatewayRef
    node_id: str
    node_cluster: str
    address: str | None  # the Gateway's requested address (None: the host backend assigns one)
    listener_ports: tuple[ServicePort, ...]
    log_level: str
    base_id: int
    overload_max_heap: int
    bootstrap_options: Mapping[str, Any]  # keyword arguments of contour.envoy.bootstrap.BootstrapConfig
