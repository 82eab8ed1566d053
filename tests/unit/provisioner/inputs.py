"""The objects the renderer tests feed in: Contour CRs, a Gateway with its class and ContourDeployment."""

from __future__ import annotations

import copy
from typing import Any

from contour.provisioner.model import XdsCertificates

CERTS = XdsCertificates(
    ca_pem="-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
    contour_cert_pem="-----BEGIN CERTIFICATE-----\nCONTOUR\n-----END CERTIFICATE-----\n",
    contour_key_pem="-----BEGIN PRIVATE KEY-----\nCONTOUR\n-----END PRIVATE KEY-----\n",
    envoy_cert_pem="-----BEGIN CERTIFICATE-----\nENVOY\n-----END CERTIFICATE-----\n",
    envoy_key_pem="-----BEGIN PRIVATE KEY-----\nENVOY\n-----END PRIVATE KEY-----\n",
)


def contour_cr(
    spec: dict[str, Any] | None = None, *, name: str = "contour", namespace: str = "contour-operator"
) -> dict[str, Any]:
    return {
        "apiVersion": "operator.projectcontour.io/v1alpha1",
        "kind": "Contour",
        "metadata": {"name": name, "namespace": namespace, "uid": "6b2f4a1e-0000-4000-8000-00000000c0c0"},
        "spec": copy.deepcopy(spec) if spec is not None else {},
    }


DAEMONSET_CR = contour_cr(
    {
        "namespace": "projectcontour",
        "ingressClassName": "contour",
        "config": {"enableExternalNameService": False, "envoy": {"logging": {"accessLogFormat": "json"}}},
        "contour": {"replicas": 2, "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}},
        "envoy": {
            "workloadType": "DaemonSet",
            "networkPublishing": {
                "type": "LoadBalancer",
                "serviceAnnotations": {
                    "service.beta.kubernetes.io/aws-load-balancer-backend-protocol": "tcp"
                },
            },
            "nodePlacement": {
                "nodeSelector": {"node-role.kubernetes.io/ingress": ""},
                "tolerations": [{"key": "ingress", "operator": "Exists", "effect": "NoSchedule"}],
            },
        },
    }
)

DEPLOYMENT_CR = contour_cr(
    {
        "namespace": "contour-operator",
        "contour": {"replicas": 1, "logLevel": "debug"},
        "envoy": {
            "workloadType": "Deployment",
            "replicas": 3,
            "logLevel": "warn",
            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
            "networkPublishing": {
                "type": "NodePort",
                "externalTrafficPolicy": "Cluster",
                "ports": [
                    {"name": "http", "servicePort": 80, "containerPort": 8080, "nodePort": 30080},
                    {"name": "https", "servicePort": 443, "nodePort": 30443},
                ],
            },
        },
    },
    name="edge",
)

GATEWAY_CLASS: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "GatewayClass",
    "metadata": {"name": "contour"},
    "spec": {
        "controllerName": "projectcontour.io/gateway-controller",
        "parametersRef": {
            "group": "projectcontour.io",
            "kind": "ContourDeployment",
            "name": "params",
            "namespace": "projectcontour",
        },
    },
}

CONTOUR_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "projectcontour.io/v1alpha1",
    "kind": "ContourDeployment",
    "metadata": {"name": "params", "namespace": "projectcontour"},
    "spec": {
        "contour": {"deployment": {"replicas": 1}, "watchNamespaces": ["apps", "web"]},
        "envoy": {
            "workloadType": "Deployment",
            "deployment": {"replicas": 2},
            "networkPublishing": {"type": "ClusterIPService"},
            "podAnnotations": {"prometheus.io/scrape": "true"},
            "extraVolumes": [{"name": "scratch", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
            "overloadMaxHeapSize": 1073741824,
        },
        "resourceLabels": {"team": "edge"},
        "runtimeSettings": {"envoy": {"listener": {"connectionBalancer": "exact"}}},
    },
}

GATEWAY: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "web", "namespace": "apps", "uid": "0f0f0f0f-0000-4000-8000-0000000000aa"},
    "spec": {
        "gatewayClassName": "contour",
        "addresses": [{"type": "IPAddress", "value": "127.0.1.7"}],
        "infrastructure": {"labels": {"cost-center": "42"}, "annotations": {"example.com/owner": "web-team"}},
        "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP"},
            {"name": "https-a", "port": 443, "protocol": "HTTPS", "hostname": "a.example.com"},
            {"name": "https-b", "port": 443, "protocol": "HTTPS", "hostname": "b.example.com"},
            {"name": "dns", "port": 53, "protocol": "UDP"},
        ],
    },
}
