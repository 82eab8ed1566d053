"""The Envoy fleet of one instance: a DaemonSet (hostPorts, one pod per node) or a Deployment (replicas,
spread over nodes by a preferred podAntiAffinity).

Each pod, in Contour's layout:

* init container `envoy-initconfig` runs `contour bootstrap` into the `envoy-config` emptyDir, with
  the xDS address of the instance's contour Service, the mTLS files of Secret `envoycert-<name>`, and
  the pod's xDS identity (node.id = pod name, node.cluster = the Gateway's group or the namespace);
* container `shutdown-manager` runs `contour envoy shutdown-manager` (port 8090) and, on preStop,
  `contour envoy shutdown`: fail Envoy's health check, wait for connections to drain, write the ready
  file to the shared `/admin` emptyDir;
* container `envoy` serves the listeners (and /ready on the health port), reaches its admin on the
  unix socket in `/admin`, and its preStop GETs the shutdown-manager's /shutdown, which returns once
  the drain is done; terminationGracePeriodSeconds leaves it 300 s.

A listener port below 1024 (a Gateway's port 80) is bound by a non-root Envoy through the namespaced,
safe sysctl `net.ipv4.ip_unprivileged_port_start`.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from contour.provisioner.model import (
    ADMIN_DIR,
    CERTS_DIR,
    CONFIG_DIR,
    SHUTDOWN_MANAGER_PORT,
    XDS_PORT,
    ProvisionParams,
)
from contour.provisioner.render_contour import CA_FILE, CERT_FILE, KEY_FILE, NAMESPACE_ENV
from contour.provisioner.render_meta import CERTIFICATE_HASH_ANNOTATION, metadata, pod_metadata, selector
from contour.provisioner.render_pod import affinity, env_from_field, placement, run_as_non_root

POD_NAME_ENV: Final = "ENVOY_POD_NAME"
BOOTSTRAP_FILE: Final = f"{CONFIG_DIR}/envoy.json"
TERMINATION_GRACE_SECONDS: Final = 300


def bootstrap_args(params: ProvisionParams) -> list[str]:
    args = [
        "bootstrap",
        BOOTSTRAP_FILE,
        f"--xds-address={params.contour_name}",
        f"--xds-port={XDS_PORT}",
        "--xds-resource-version=v3",
        f"--resources-dir={CONFIG_DIR}/resources",
        f"--envoy-cafile={CA_FILE}",
        f"--envoy-cert-file={CERT_FILE}",
        f"--envoy-key-file={KEY_FILE}",
        f"--namespace=$({NAMESPACE_ENV})",
        f"--node-id=$({POD_NAME_ENV})",
        f"--node-cluster={params.envoy_node_cluster}",
    ]
    if params.envoy_overload_max_heap:
        args.append(f"--overload-max-heap={params.envoy_overload_max_heap}")
    return args


def envoy_args(params: ProvisionParams) -> list[str]:
    args = [
        "-c",
        BOOTSTRAP_FILE,
        "--service-cluster",
        params.envoy_node_cluster,
        "--service-node",
        f"$({POD_NAME_ENV})",
        "--log-level",
        params.envoy_log_level,
    ]
    if params.envoy_base_id:
        args += ["--base-id", str(params.envoy_base_id)]
    return args


def _env() -> list[dict[str, Any]]:
    return [
        env_from_field(NAMESPACE_ENV, "metadata.namespace"),
        env_from_field(POD_NAME_ENV, "metadata.name"),
    ]


def _containers(params: ProvisionParams, *, host_ports: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the init container, [shutdown-manager, envoy])."""
    no_escalation = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    init = {
        "name": "envoy-initconfig",
        "image": params.contour_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["contour"],
        "args": bootstrap_args(params),
        "env": _env(),
        "volumeMounts": [
            {"name": "envoy-config", "mountPath": CONFIG_DIR},
            {"name": "envoycert", "mountPath": CERTS_DIR, "readOnly": True},
        ],
        "securityContext": no_escalation,
    }
    shutdown_manager = {
        "name": "shutdown-manager",
        "image": params.contour_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["contour"],
        "args": ["envoy", "shutdown-manager"],
        "lifecycle": {
            "preStop": {
                "exec": {"command": ["contour", "envoy", "shutdown"]},
            }
        },
        "volumeMounts": [{"name": "envoy-admin", "mountPath": ADMIN_DIR}],
        "securityContext": no_escalation,
    }
    ports: list[dict[str, Any]] = []
    for port in params.service_ports:
        entry: dict[str, Any] = {
            "name": port.name,
            "containerPort": port.container_port,
            "protocol": port.protocol,
        }
        if host_ports:
            entry["hostPort"] = port.container_port
        ports.append(entry)
    ports.append({"name": "metrics", "containerPort": params.envoy_health_port, "protocol": "TCP"})
    mounts = [
        {"name": "envoy-config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "envoycert", "mountPath": CERTS_DIR, "readOnly": True},
        {"name": "envoy-admin", "mountPath": ADMIN_DIR},
        *(copy.deepcopy(dict(m)) for m in params.envoy_extra_volume_mounts),
    ]
    envoy: dict[str, Any] = {
        "name": "envoy",
        "image": params.envoy_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["envoy"],
        "args": envoy_args(params),
        "env": _env(),
        "ports": ports,
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": params.envoy_health_port, "scheme": "HTTP"},
            "periodSeconds": 4,
            "failureThreshold": 3,
            "timeoutSeconds": 1,
        },
        "lifecycle": {
            "preStop": {"httpGet": {"path": "/shutdown", "port": SHUTDOWN_MANAGER_PORT, "scheme": "HTTP"}}
        },
        "volumeMounts": mounts,
        "securityContext": no_escalation,
    }
    if params.envoy_resources:
        envoy["resources"] = copy.deepcopy(dict(params.envoy_resources))
    return init, [shutdown_manager, envoy]


def render_envoy_workload(params: ProvisionParams, *, certificate_hash: str) -> dict[str, Any]:
    daemonset = params.envoy_workload == "DaemonSet"
    init, containers = _containers(params, host_ports=daemonset)
    security = run_as_non_root()
    if any(p.container_port < 1024 for p in params.service_ports):
        security["sysctls"] = [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
    pod_spec: dict[str, Any] = {
        "serviceAccountName": params.envoy_name,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "initContainers": [init],
        "containers": containers,
        "volumes": [
            {"name": "envoy-admin", "emptyDir": {}},
            {"name": "envoy-config", "emptyDir": {}},
            {"name": "envoycert", "secret": {"secretName": params.envoy_cert_secret}},
            *(copy.deepcopy(dict(v)) for v in params.envoy_extra_volumes),
        ],
        "securityContext": security,
        **placement(params.envoy_node_placement),
    }
    spec: dict[str, Any] = {"selector": {"matchLabels": selector(params, "envoy")}}
    strategy = copy.deepcopy(dict(params.envoy_update_strategy))
    if daemonset:
        spec["updateStrategy"] = strategy or {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "10%"},
        }
    else:
        pod_spec["affinity"] = affinity(params, "envoy")
        spec["replicas"] = params.envoy_replicas
        spec["strategy"] = strategy or {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "10%", "maxUnavailable": "10%"},
        }
    spec["template"] = {
        "metadata": pod_metadata(
            params, "envoy", {**params.envoy_pod_annotations, CERTIFICATE_HASH_ANNOTATION: certificate_hash}
        ),
        "spec": pod_spec,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": params.envoy_workload,
        "metadata": metadata(params, params.envoy_name, component="envoy"),
        "spec": spec,
    }
