"""The control plane of one instance: xDS TLS Secrets, the ContourConfiguration and the contour Deployment.

`contour serve` reads its settings from the ContourConfiguration (the CR's `spec.config` or the
ContourDeployment's `runtimeSettings`, with the provisioner's own settings merged over them: the xDS
server and its certificates, the Envoy Service statuses report, the Gateway it serves, the ingress
class) and the flags below, which win over it. It serves xDS on 0.0.0.0:8001 with the three files of
Secret `contourcert-<name>` mounted at /certs; /healthz (liveness: the API server answers) and
/readyz (readiness: the first snapshot is published) on the health port.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from typing import Any, Final

from contour.provisioner.model import CERTS_DIR, XDS_PORT, ProvisionParams, XdsCertificates
from contour.provisioner.render_meta import CERTIFICATE_HASH_ANNOTATION, metadata, pod_metadata, selector
from contour.provisioner.render_pod import affinity, env_from_field, placement, run_as_non_root

CONTOUR_CONFIG_API: Final = "projectcontour.io/v1alpha1"
CA_FILE: Final = f"{CERTS_DIR}/ca.crt"
CERT_FILE: Final = f"{CERTS_DIR}/tls.crt"
KEY_FILE: Final = f"{CERTS_DIR}/tls.key"
NAMESPACE_ENV: Final = "CONTOUR_NAMESPACE"


def render_secrets(params: ProvisionParams, certs: XdsCertificates) -> list[dict[str, Any]]:
    """`contourcert-<name>` and `envoycert-<name>`: kubernetes.io/tls with the CA as ca.crt (certgen's
    compact format)."""
    pairs = (
        (params.contour_cert_secret, "contour", certs.contour_cert_pem, certs.contour_key_pem),
        (params.envoy_cert_secret, "envoy", certs.envoy_cert_pem, certs.envoy_key_pem),
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata(params, name, component=component),  # type: ignore[arg-type]
            "type": "kubernetes.io/tls",
            "data": {
                "ca.crt": _b64(certs.ca_pem),
                "tls.crt": _b64(cert),
                "tls.key": _b64(key),
            },
        }
        for name, component, cert, key in pairs
    ]


def configuration_spec(params: ProvisionParams) -> dict[str, Any]:
    """The ContourConfiguration spec: the user's, with the provisioner's settings merged over it."""
    spec = copy.deepcopy(dict(params.contour_config))
    forced: dict[str, Any] = {
        "xdsServer": {
            "address": "0.0.0.0",
            "port": XDS_PORT,
            "tls": {"caFile": CA_FILE, "certFile": CERT_FILE, "keyFile": KEY_FILE, "insecure": False},
        },
        "envoy": {"service": {"name": params.envoy_name, "namespace": params.namespace}},
    }
    ports = {p.name: p.container_port for p in params.service_ports}
    if params.gateway is None:
        for listener in ("http", "https"):
            if listener in ports:
                forced["envoy"][listener] = {"port": ports[listener]}
        if params.ingress_class_name:
            forced["ingress"] = {"classNames": [params.ingress_class_name]}
    else:
        forced["gateway"] = {
            "gatewayRef": {"name": params.gateway.name, "namespace": params.gateway.namespace}
        }
    return _merge(spec, forced)


def render_configuration(params: ProvisionParams) -> dict[str, Any]:
    return {
        "apiVersion": CONTOUR_CONFIG_API,
        "kind": "ContourConfiguration",
        "metadata": metadata(params, params.config_name, component="contour"),
        "spec": configuration_spec(params),
    }


def serve_args(params: ProvisionParams) -> list[str]:
    args = [
        "serve",
        "--incluster",
        f"--contour-config-name={params.config_name}",
        "--xds-address=0.0.0.0",
        f"--xds-port={XDS_PORT}",
        f"--contour-cafile={CA_FILE}",
        f"--contour-cert-file={CERT_FILE}",
        f"--contour-key-file={KEY_FILE}",
        f"--envoy-service-name={params.envoy_name}",
        f"--leader-election-resource-name={params.leader_election_lease}",
        f"--leader-election-resource-namespace=$({NAMESPACE_ENV})",
    ]
    if params.watch_namespaces:
        args.append(f"--watch-namespaces={','.join(params.watch_namespaces)}")
    if params.contour_debug:
        args.append("--debug")
    return args


def render_contour_deployment(params: ProvisionParams, *, certificate_hash: str) -> dict[str, Any]:
    ports = [{"name": "xds", "containerPort": XDS_PORT, "protocol": "TCP"}]
    ports.append({"name": "metrics", "containerPort": params.contour_metrics_port, "protocol": "TCP"})
    if params.contour_health_port != params.contour_metrics_port:
        ports.append({"name": "health", "containerPort": params.contour_health_port, "protocol": "TCP"})
    container: dict[str, Any] = {
        "name": "contour",
        "image": params.contour_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["contour"],
        "args": serve_args(params),
        "env": [
            env_from_field(NAMESPACE_ENV, "metadata.namespace"),
            env_from_field("POD_NAME", "metadata.name"),
        ],
        "ports": ports,
        "livenessProbe": _probe("/healthz", params.contour_health_port, period=10, failures=6),
        "readinessProbe": _probe("/readyz", params.contour_health_port, period=5, failures=3),
        "volumeMounts": [{"name": "contourcert", "mountPath": CERTS_DIR, "readOnly": True}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    if params.contour_resources:
        container["resources"] = copy.deepcopy(dict(params.contour_resources))
    pod_spec: dict[str, Any] = {
        "serviceAccountName": params.contour_name,
        "containers": [container],
        "volumes": [{"name": "contourcert", "secret": {"secretName": params.contour_cert_secret}}],
        "securityContext": run_as_non_root(),
        "affinity": affinity(params, "contour"),
        **placement(params.contour_node_placement),
    }
    strategy = copy.deepcopy(dict(params.contour_strategy)) or {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "25%"},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(params, params.contour_name, component="contour"),
        "spec": {
            "replicas": params.contour_replicas,
            "strategy": strategy,
            "selector": {"matchLabels": selector(params, "contour")},
            "template": {
                "metadata": pod_metadata(
                    params,
                    "contour",
                    {**params.contour_pod_annotations, CERTIFICATE_HASH_ANNOTATION: certificate_hash},
                ),
                "spec": pod_spec,
            },
        },
    }


def _probe(path: str, port: int, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 3,
    }


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            base[key] = _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _b64(pem: str) -> str:
    return base64.b64encode(pem.encode("utf-8")).decode("ascii")
