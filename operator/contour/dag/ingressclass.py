"""Which Ingresses and HTTPProxies this Contour serves, by ingress class, as Contour 1.33 decides it.

Contour matches on the class *name* only (`internal/ingressclass/ingressclass.go`): the class annotation
(`projectcontour.io/ingress.class`, then `kubernetes.io/ingress.class`) takes precedence over
`spec.ingressClassName`. With no configured class names an object is served when its class is empty
or "contour"; otherwise its class must be one of the configured names. Contour never reads IngressClass
objects, so neither does the matching here: a class-less Ingress is not adopted by a default
IngressClass. In a real cluster the DefaultIngressClass admission plugin writes the default class into
`spec.ingressClassName` when the Ingress is created; `default_ingress_class` computes that name so an
API server without the plugin can do the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from contour.dag.annotations import annotations_of, ingress_class

DEFAULT_CLASS_NAME = "contour"
# spec.controller of the IngressClass objects users create for Contour.
CONTROLLER_NAME = "projectcontour.io/ingress-controller"
IS_DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"


def matches_class(object_class: str, class_names: Sequence[str]) -> bool:
    """Whether an object of class `object_class` ("" for none) is served by a Contour configured with
    `class_names` (empty: the default, which serves "" and "contour")."""
    if not class_names:
        return object_class in {"", DEFAULT_CLASS_NAME}
    return object_class in class_names


def object_class(annotations: Mapping[str, str], spec_class_name: str | None) -> str:
    """The effective class: the class annotation if it is set and non-empty, else the spec field."""
    return ingress_class(annotations) or (spec_class_name or "")


def matches_ingress(ingress: Mapping[str, Any], class_names: Sequence[str]) -> bool:
    """Whether a networking.k8s.io/v1 Ingress (a raw object dict) is served with `class_names`."""
    spec = ingress.get("spec")
    spec_class = spec.get("ingressClassName") if isinstance(spec, Mapping) else None
    return matches_class(
        object_class(annotations_of(ingress), spec_class if isinstance(spec_class, str) else None),
        class_names,
    )


def matches_httpproxy(
    annotations: Mapping[str, str], spec_class_name: str | None, class_names: Sequence[str]
) -> bool:
    """Whether an HTTPProxy with these annotations and `spec.ingressClassName` is served."""
    return matches_class(object_class(annotations, spec_class_name), class_names)


def is_contour_ingress_class(ingress_class_obj: Mapping[str, Any]) -> bool:
    """Whether an IngressClass object names Contour as its controller."""
    spec = ingress_class_obj.get("spec")
    return isinstance(spec, Mapping) and spec.get("controller") == CONTROLLER_NAME


def default_ingress_class(ingress_classes: Iterable[Mapping[str, Any]]) -> str | None:
    """The class the DefaultIngressClass admission plugin gives a new Ingress that names none.

    The IngressClasses annotated `ingressclass.kubernetes.io/is-default-class: "true"`; when several
    are, the most recently created wins (then the name, for a stable answer). None when there is none.
    """
    defaults: list[tuple[str, str]] = []
    for obj in ingress_classes:
        if annotations_of(obj).get(IS_DEFAULT_CLASS) != "true":
            continue
        metadata = obj.get("metadata")
        if not isinstance(metadata, Mapping):
            continue
        name = metadata.get("name")
        created = metadata.get("creationTimestamp")
        if isinstance(name, str) and name:
            # RFC 3339 timestamps in UTC ("2024-01-02T03:04:05Z") sort as strings.
            defaults.append((created if isinstance(created, str) else "", name))
    if not defaults:
        return None
    return max(defaults)[1]
