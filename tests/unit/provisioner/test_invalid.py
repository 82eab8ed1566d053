"""Unusable parameters are an InvalidParameters naming the field, never an exception."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from contour.provisioner.model import InvalidParameters
from contour.provisioner.params import params_from_contour, params_from_gateway
from tests.unit.provisioner.inputs import CONTOUR_DEPLOYMENT, GATEWAY, GATEWAY_CLASS, contour_cr

CONTOUR_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("bad-workload-type", {"envoy": {"workloadType": "StatefulSet"}}, "spec.envoy.workloadType"),
    ("negative-envoy-replicas", {"envoy": {"replicas": -1}}, "spec.envoy.replicas"),
    ("negative-contour-replicas", {"contour": {"replicas": -2}}, "spec.contour.replicas"),
    (
        "unknown-service-type",
        {"envoy": {"networkPublishing": {"type": "ExternalName"}}},
        "spec.envoy.networkPublishing.type",
    ),
    ("contour-log-level", {"contour": {"logLevel": "trace"}}, "spec.contour.logLevel"),
    ("unknown-field", {"envoy": {"hostNetwork": True}}, "spec.envoy.hostNetwork"),
    (
        "port-out-of-range",
        {"envoy": {"networkPublishing": {"ports": [{"name": "http", "servicePort": 70000}]}}},
        "spec.envoy.networkPublishing.ports[0].servicePort",
    ),
    (
        "listener-published-twice",
        {
            "envoy": {
                "networkPublishing": {
                    "ports": [{"name": "http", "servicePort": 80}, {"name": "http", "servicePort": 81}]
                }
            }
        },
        "spec.envoy.networkPublishing.ports[1].name",
    ),
    (
        "node-port-without-nodeport-type",
        {"envoy": {"networkPublishing": {"ports": [{"name": "http", "servicePort": 80, "nodePort": 30080}]}}},
        "spec.envoy.networkPublishing.ports[0].nodePort",
    ),
    (
        "container-port-disagrees-with-config",
        {
            "config": {"envoy": {"http": {"port": 9080}}},
            "envoy": {
                "networkPublishing": {"ports": [{"name": "http", "servicePort": 80, "containerPort": 8080}]}
            },
        },
        "spec.envoy.networkPublishing.ports[0].containerPort",
    ),
    (
        "bad-config-value",
        {"config": {"envoy": {"listener": {"maxRequestsPerConnection": 0}}}},
        "spec.config.envoy.listener.maxRequestsPerConnection",
    ),
    ("bad-namespace", {"namespace": "Not_A_Namespace"}, "spec.namespace"),
]


@pytest.mark.parametrize(
    ("spec", "field"), [(s, f) for _, s, f in CONTOUR_CASES], ids=[i for i, _, _ in CONTOUR_CASES]
)
def test_invalid_contour_names_the_field(spec: dict[str, Any], field: str) -> None:
    found = params_from_contour(contour_cr(spec))
    assert isinstance(found, InvalidParameters), found
    assert found.field == field
    assert field in found.message


def test_a_contour_without_namespace_is_invalid() -> None:
    cr = contour_cr({})
    del cr["metadata"]["namespace"]
    assert params_from_contour(cr) == InvalidParameters(
        "metadata", "a Contour needs metadata.name and metadata.namespace"
    )


def _deployment_with(**envoy: Any) -> dict[str, Any]:
    deployment = copy.deepcopy(CONTOUR_DEPLOYMENT)
    deployment["spec"]["envoy"].update(envoy)
    return deployment


def _class_with_ref(**ref: Any) -> dict[str, Any]:
    gateway_class = copy.deepcopy(GATEWAY_CLASS)
    gateway_class["spec"]["parametersRef"].update(ref)
    return gateway_class


GATEWAY_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None, str, str]] = [
    ("missing-contourdeployment", GATEWAY, GATEWAY_CLASS, None, "spec.parametersRef", "not found"),
    (
        "ref-to-configmap",
        GATEWAY,
        _class_with_ref(group="", kind="ConfigMap"),
        CONTOUR_DEPLOYMENT,
        "spec.parametersRef",
        "ConfigMap",
    ),
    (
        "ref-without-namespace",
        GATEWAY,
        _class_with_ref(namespace=None),
        CONTOUR_DEPLOYMENT,
        "spec.parametersRef.namespace",
        "namespaced",
    ),
    (
        "ref-to-other-name",
        GATEWAY,
        _class_with_ref(name="other"),
        CONTOUR_DEPLOYMENT,
        "spec.parametersRef",
        "projectcontour/other",
    ),
    (
        "bad-workload-type",
        GATEWAY,
        GATEWAY_CLASS,
        _deployment_with(workloadType="Pod"),
        "spec.envoy.workloadType",
        "'Pod'",
    ),
    (
        "negative-replicas",
        GATEWAY,
        GATEWAY_CLASS,
        _deployment_with(replicas=-1),
        "spec.envoy.replicas",
        "ContourDeployment",
    ),
    (
        "unknown-service-type",
        GATEWAY,
        GATEWAY_CLASS,
        _deployment_with(networkPublishing={"type": "LoadBalancer"}),
        "spec.envoy.networkPublishing.type",
        "LoadBalancerService",
    ),
    (
        "bad-log-level",
        GATEWAY,
        GATEWAY_CLASS,
        _deployment_with(logLevel="loud"),
        "spec.envoy.logLevel",
        "'loud'",
    ),
    (
        "other-controller",
        GATEWAY,
        {**GATEWAY_CLASS, "spec": {**GATEWAY_CLASS["spec"], "controllerName": "example.com/other"}},
        CONTOUR_DEPLOYMENT,
        "spec.controllerName",
        "example.com/other",
    ),
    (
        "other-class",
        {**GATEWAY, "spec": {**GATEWAY["spec"], "gatewayClassName": "other"}},
        GATEWAY_CLASS,
        CONTOUR_DEPLOYMENT,
        "spec.gatewayClassName",
        "'other'",
    ),
]


@pytest.mark.parametrize(
    ("gateway", "gateway_class", "deployment", "field", "mentions"),
    [case[1:] for case in GATEWAY_CASES],
    ids=[case[0] for case in GATEWAY_CASES],
)
def test_invalid_gateway_parameters_name_the_field(
    gateway: dict[str, Any],
    gateway_class: dict[str, Any],
    deployment: dict[str, Any] | None,
    field: str,
    mentions: str,
) -> None:
    found = params_from_gateway(gateway, gateway_class, deployment)
    assert isinstance(found, InvalidParameters), found
    assert found.field == field
    assert mentions in found.message
