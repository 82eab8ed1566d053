"""Readable Python class names for the object schemas nested inside a CRD.

A CRD schema names nothing but its properties, so a generator left alone produces `Spec1` and
`Model2`. Here a nested object is named after the property that holds it (singular for list items,
Kubernetes acronyms upper-cased: `jwtProviders` -> `JWTProvider`), and a clash between different
shapes under one name is resolved by prefixing the parent's class name (`RouteTimeoutPolicy`).
"""

from __future__ import annotations

import re

# Words that Kubernetes and Envoy APIs spell in capitals.
ACRONYMS = frozenset(
    {
        "api",
        "ca",
        "cel",
        "cidr",
        "cors",
        "crl",
        "dns",
        "grpc",
        "h2",
        "h2c",
        "http",
        "https",
        "id",
        "ip",
        "ja3",
        "ja4",
        "json",
        "jwks",
        "jwt",
        "lb",
        "rbac",
        "sni",
        "tcp",
        "tls",
        "tos",
        "ttl",
        "udp",
        "uri",
        "url",
        "xds",
        "xfcc",
    }
)
# Property names written as one lower-case word that are several words in the Go API.
COMPOUNDS = {
    "virtualhost": "VirtualHost",
    "tcpproxy": "TCPProxy",
    "httpproxy": "HTTPProxy",
    "healthcheck": "HealthCheck",
    "servicename": "ServiceName",
}
WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def words(name: str) -> list[str]:
    """Split a camelCase, snake_case or kebab-case property name into its words."""
    out: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", name):
        out.extend(WORD.findall(chunk))
    return out


def pascal(name: str) -> str:
    """`jwtProviders` -> `JWTProviders`, `virtualhost` -> `VirtualHost`, `caSecret` -> `CASecret`."""
    parts: list[str] = []
    for word in words(name):
        lower = word.lower()
        if lower in COMPOUNDS:
            parts.append(COMPOUNDS[lower])
        elif lower in ACRONYMS:
            parts.append(lower.upper())
        else:
            parts.append(word[0].upper() + word[1:])
    return "".join(parts) or "Item"


def singular(name: str) -> str:
    """The singular of an English plural property name, for the class of its list items."""
    lower = name.lower()
    if lower.endswith(("status", "tls", "alias", "address", "class")) and not lower.endswith("addresses"):
        return name
    for suffix, replacement in (
        ("uses", "us"),
        ("ies", "y"),
        ("sses", "ss"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("xes", "x"),
    ):
        if lower.endswith(suffix):
            return name[: -len(suffix)] + replacement
    if lower.endswith("s") and not lower.endswith("ss"):
        return name[:-1]
    return name


# Shapes every Kubernetes API repeats get one well-known name wherever they appear; a property
# whose own name would collide with one of these is named after its parent instead.
CONDITION_FIELDS = frozenset(
    {"type", "status", "observedGeneration", "lastTransitionTime", "reason", "message"}
)
KNOWN_SHAPES: tuple[tuple[frozenset[str], str], ...] = (
    (CONDITION_FIELDS, "Condition"),
    (CONDITION_FIELDS | {"errors", "warnings"}, "DetailedCondition"),
    (frozenset({"type", "status", "reason", "message"}), "SubCondition"),
)
RESERVED = frozenset({name for _, name in KNOWN_SHAPES} | {"ObjectMeta", "Resource", "APIModel"})


def known_shape(properties: set[str]) -> str | None:
    """The well-known name of an object with exactly these properties, if it has one."""
    for fields, name in KNOWN_SHAPES:
        if properties == fields:
            return name
    return None


# Where a property name alone makes a poor class name, the Go API's name, keyed by
# `ParentClass.property` (list items share their list's key). Two properties given the same name
# with the same shape share one class: ContourDeployment's runtimeSettings and the Contour CR's config
# are the ContourConfigurationSpec.
CLASS_NAMES = {
    "ContourConfigurationSpec.debug": "DebugConfig",
    "ContourConfigurationSpec.envoy": "EnvoyConfig",
    "ContourConfigurationSpec.gateway": "GatewayConfig",
    "ContourConfigurationSpec.health": "HealthConfig",
    "ContourConfigurationSpec.httpproxy": "HTTPProxyConfig",
    "ContourConfigurationSpec.ingress": "IngressConfig",
    "ContourConfigurationSpec.metrics": "MetricsConfig",
    "ContourConfigurationSpec.policy": "PolicyConfig",
    "ContourConfigurationSpec.rateLimitService": "RateLimitServiceConfig",
    "ContourConfigurationSpec.tracing": "TracingConfig",
    "ContourConfigurationSpec.xdsServer": "XDSServerConfig",
    "ContourDeploymentSpec.contour": "ContourSettings",
    "ContourDeploymentSpec.envoy": "EnvoySettings",
    "ContourDeploymentSpec.runtimeSettings": "ContourConfigurationSpec",
    "ContourSpec.contour": "ContourSettings",
    "ContourSpec.envoy": "EnvoySettings",
    "ContourSpec.config": "ContourConfigurationSpec",
}

# API groups that embed another group's types: a nested object with the name and shape of a class
# the donor group generated imports that class instead of generating it again (the Contour CR's
# spec.config is Contour's own ContourConfigurationSpec, its tolerations are core Tolerations).
CLASS_DONORS = {"operator.projectcontour.io": "projectcontour.io"}
