"""What the rendered objects say, behaviour by behaviour (the golden files hold the whole text)."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
import typer

from contour.cli.app import app
from contour.provisioner.model import ProvisionParams, ServicePort
from contour.provisioner.params import params_from_contour, params_from_gateway
from contour.provisioner.render import render
from contour.provisioner.render_host import render_host
from tests.unit.provisioner.inputs import (
    CERTS,
    CONTOUR_DEPLOYMENT,
    DAEMONSET_CR,
    DEPLOYMENT_CR,
    GATEWAY,
    GATEWAY_CLASS,
)


def _params(found: Any) -> ProvisionParams:
    assert isinstance(found, ProvisionParams), found
    return found


def _objects(params: ProvisionParams) -> dict[str, dict[str, Any]]:
    out = {}
    for obj in render(params, CERTS).objects:
        out[f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"] = obj
    return out


def _one(objects: dict[str, dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects.values() if o["kind"] == kind and o["metadata"]["name"] == name)


def _container(workload: dict[str, Any], name: str, *, init: bool = False) -> dict[str, Any]:
    spec = workload["spec"]["template"]["spec"]
    return next(c for c in spec["initContainers" if init else "containers"] if c["name"] == name)


GATEWAY_PARAMS = _params(params_from_gateway(GATEWAY, GATEWAY_CLASS, CONTOUR_DEPLOYMENT))
DAEMONSET_PARAMS = _params(params_from_contour(DAEMONSET_CR))
DEPLOYMENT_PARAMS = _params(params_from_contour(DEPLOYMENT_CR))


@pytest.mark.parametrize(
    "params", [DAEMONSET_PARAMS, DEPLOYMENT_PARAMS, GATEWAY_PARAMS], ids=["ds", "deploy", "gateway"]
)
def test_every_object_carries_the_instance_labels(params: ProvisionParams) -> None:
    state = render(params, CERTS)
    for obj in state.objects:
        labels = obj["metadata"]["labels"]
        assert {k: labels.get(k) for k in state.instance_labels} == state.instance_labels, obj["metadata"][
            "name"
        ]


def test_objects_in_the_owners_namespace_are_owned_by_it() -> None:
    objects = render(GATEWAY_PARAMS, CERTS).objects
    for obj in objects:
        meta = obj["metadata"]
        if meta.get("namespace") == "apps":
            (ref,) = meta["ownerReferences"]
            assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
                "Gateway",
                "web",
                GATEWAY["metadata"]["uid"],
                True,
            )
        else:  # cluster-scoped, or another namespace: Kubernetes cannot resolve the owner there
            assert "ownerReferences" not in meta, meta["name"]


def test_a_contour_cr_targeting_another_namespace_creates_it_without_owner_references() -> None:
    objects = render(DAEMONSET_PARAMS, CERTS).objects
    assert objects[0]["kind"] == "Namespace"
    assert objects[0]["metadata"]["name"] == "projectcontour"
    assert all("ownerReferences" not in o["metadata"] for o in objects)


def test_a_contour_cr_in_its_target_namespace_creates_no_namespace() -> None:
    assert DEPLOYMENT_PARAMS.namespace == "contour-operator"
    kinds = [o["kind"] for o in render(DEPLOYMENT_PARAMS, CERTS).objects]
    assert "Namespace" not in kinds


def test_daemonset_envoy_binds_host_ports() -> None:
    envoy = _container(_one(_objects(DAEMONSET_PARAMS), "DaemonSet", "envoy-contour"), "envoy")
    host = {p["name"]: (p["containerPort"], p.get("hostPort")) for p in envoy["ports"]}
    assert host == {"http": (8080, 8080), "https": (8443, 8443), "metrics": (8002, None)}


def test_deployment_envoy_has_replicas_and_prefers_other_nodes() -> None:
    workload = _one(_objects(DEPLOYMENT_PARAMS), "Deployment", "envoy-edge")
    assert workload["spec"]["replicas"] == 3
    term = workload["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]
    assert all("hostPort" not in p for p in _container(workload, "envoy")["ports"])


def test_switching_the_workload_type_changes_the_kind_not_the_name() -> None:
    switched = dataclasses.replace(DAEMONSET_PARAMS, envoy_workload="Deployment")
    kinds = {(o["kind"], o["metadata"]["name"]) for o in render(switched, CERTS).objects}
    assert ("Deployment", "envoy-contour") in kinds
    assert ("DaemonSet", "envoy-contour") not in kinds


def test_contour_serve_gets_its_config_certificates_and_lease() -> None:
    deployment = _one(_objects(DEPLOYMENT_PARAMS), "Deployment", "contour-edge")
    contour = _container(deployment, "contour")
    assert deployment["spec"]["replicas"] == 1
    assert contour["args"][:2] == ["serve", "--incluster"]
    for flag in (
        "--contour-config-name=contourconfig-edge",
        "--xds-address=0.0.0.0",
        "--xds-port=8001",
        "--contour-cafile=/certs/ca.crt",
        "--contour-cert-file=/certs/tls.crt",
        "--contour-key-file=/certs/tls.key",
        "--leader-election-resource-name=leader-elect-edge",
        "--envoy-service-name=envoy-edge",
        "--debug",
    ):
        assert flag in contour["args"]
    assert contour["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8000, "scheme": "HTTP"}
    assert contour["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 8000, "scheme": "HTTP"}
    assert {e["name"] for e in contour["env"]} == {"CONTOUR_NAMESPACE", "POD_NAME"}


def test_envoy_pod_bootstraps_drains_and_shares_the_admin_socket() -> None:
    workload = _one(_objects(GATEWAY_PARAMS), "Deployment", "envoy-web")
    init = _container(workload, "envoy-initconfig", init=True)
    assert init["args"][:2] == ["bootstrap", "/config/envoy.json"]
    assert "--xds-address=contour-web" in init["args"]
    assert "--node-cluster=gateway/apps/web" in init["args"]
    assert "--overload-max-heap=1073741824" in init["args"]
    sidecar = _container(workload, "shutdown-manager")
    assert sidecar["args"] == ["envoy", "shutdown-manager"]
    assert sidecar["lifecycle"]["preStop"]["exec"]["command"] == ["contour", "envoy", "shutdown"]
    envoy = _container(workload, "envoy")
    assert envoy["lifecycle"]["preStop"]["httpGet"]["path"] == "/shutdown"
    assert envoy["args"][envoy["args"].index("--service-cluster") + 1] == "gateway/apps/web"
    mounts = {c["name"]: {m["mountPath"] for m in c["volumeMounts"]} for c in (sidecar, envoy)}
    assert "/admin" in mounts["shutdown-manager"] & mounts["envoy"]
    assert "/scratch" in mounts["envoy"]


def test_gateway_listeners_become_envoy_service_ports() -> None:
    service = _one(_objects(GATEWAY_PARAMS), "Service", "envoy-web")
    ports = [(p["name"], p["port"], p["targetPort"], p["protocol"]) for p in service["spec"]["ports"]]
    assert ports == [("udp-53", 53, 53, "UDP"), ("http-80", 80, 80, "TCP"), ("https-443", 443, 443, "TCP")]
    assert service["spec"]["type"] == "ClusterIP"
    assert "externalTrafficPolicy" not in service["spec"]
    assert service["metadata"]["annotations"] == {"example.com/owner": "web-team"}
    assert service["metadata"]["labels"]["cost-center"] == "42"


def test_privileged_gateway_ports_are_bound_through_the_unprivileged_port_sysctl() -> None:
    workload = _one(_objects(GATEWAY_PARAMS), "Deployment", "envoy-web")
    sysctls = workload["spec"]["template"]["spec"]["securityContext"]["sysctls"]
    assert sysctls == [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
    ds = _one(_objects(DAEMONSET_PARAMS), "DaemonSet", "envoy-contour")
    assert "sysctls" not in ds["spec"]["template"]["spec"]["securityContext"]


def test_load_balancer_gateway_gets_its_requested_address() -> None:
    deployment = {**CONTOUR_DEPLOYMENT, "spec": {**CONTOUR_DEPLOYMENT["spec"], "envoy": {}}}
    params = _params(params_from_gateway(GATEWAY, GATEWAY_CLASS, deployment))
    service = _one(_objects(params), "Service", "envoy-web")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerIP"] == "127.0.1.7"
    assert service["spec"]["externalTrafficPolicy"] == "Local"


def test_node_port_gateway_uses_listener_ports_in_the_node_port_range() -> None:
    gateway = {
        **GATEWAY,
        "spec": {
            **GATEWAY["spec"],
            "listeners": [
                {"name": "a", "port": 30080, "protocol": "HTTP"},
                {"name": "b", "port": 8443, "protocol": "HTTPS"},
            ],
        },
    }
    deployment = {**CONTOUR_DEPLOYMENT, "spec": {"envoy": {"networkPublishing": {"type": "NodePortService"}}}}
    params = _params(params_from_gateway(gateway, GATEWAY_CLASS, deployment))
    service = _one(_objects(params), "Service", "envoy-web")
    assert [(p["port"], p.get("nodePort")) for p in service["spec"]["ports"]] == [
        (8443, None),
        (30080, 30080),
    ]


def test_contour_configuration_merges_the_users_config_under_the_provisioners() -> None:
    config = _one(_objects(DAEMONSET_PARAMS), "ContourConfiguration", "contourconfig-contour")["spec"]
    assert config["envoy"]["logging"] == {"accessLogFormat": "json"}  # the user's
    assert config["envoy"]["service"] == {"name": "envoy-contour", "namespace": "projectcontour"}
    assert config["envoy"]["http"] == {"port": 8080}
    assert config["ingress"] == {"classNames": ["contour"]}
    assert config["xdsServer"]["tls"]["insecure"] is False
    gateway_config = _one(_objects(GATEWAY_PARAMS), "ContourConfiguration", "contourconfig-web")["spec"]
    assert gateway_config["gateway"] == {"gatewayRef": {"name": "web", "namespace": "apps"}}
    assert gateway_config["envoy"]["listener"] == {"connectionBalancer": "exact"}


def test_xds_secrets_hold_the_given_pems() -> None:
    secret = _one(_objects(DAEMONSET_PARAMS), "Secret", "envoycert-contour")
    assert secret["type"] == "kubernetes.io/tls"
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {
        "ca.crt": CERTS.ca_pem,
        "tls.crt": CERTS.envoy_cert_pem,
        "tls.key": CERTS.envoy_key_pem,
    }


def _command(path: list[str]) -> Any:
    """The click command `contour PATH...` (typer ships its own click: duck-typed)."""
    command: Any = typer.main.get_command(app)
    for name in path:
        assert hasattr(command, "get_command"), f"{name}: not a group"
        found = command.get_command(command.context_class(command), name)
        assert found is not None, f"no command {' '.join(path)}"
        command = found
    return command


def _flags(args: list[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in args if a.startswith("--")}


@pytest.mark.parametrize("params", [DAEMONSET_PARAMS, GATEWAY_PARAMS], ids=["contour-cr", "gateway"])
def test_rendered_commands_use_only_flags_the_cli_has(params: ProvisionParams) -> None:
    objects = render(params, CERTS).objects
    workloads = [o for o in objects if o["kind"] in ("Deployment", "DaemonSet")]
    for workload in workloads:
        spec = workload["spec"]["template"]["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            if container.get("command") != ["contour"]:
                continue
            args = container["args"]
            words = [a for a in args if not a.startswith("-") and not a.startswith("/")]
            command = _command(words)
            known = {opt for p in command.params for opt in p.opts}
            assert _flags(args) <= known, (container["name"], _flags(args) - known)
            pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec")
            if pre_stop:
                _command(pre_stop["command"][1:])


def test_render_host_describes_the_gateways_local_envoy() -> None:
    host = render_host(GATEWAY_PARAMS)
    assert host.node_cluster == "gateway/apps/web"
    assert host.node_id == "envoy/apps/web"
    assert host.address == "127.0.1.7"
    assert host.listener_ports == (
        ServicePort("udp-53", 53, 53, "UDP"),
        ServicePort("http-80", 80, 80, "TCP"),
        ServicePort("https-443", 443, 443, "TCP"),
    )
    assert host.bootstrap_options["overload_max_heap"] == 1073741824


def test_render_host_refuses_a_contour_cr() -> None:
    with pytest.raises(ValueError, match="Gateway"):
        render_host(DAEMONSET_PARAMS)
