"""Ingress class matching (dag/ingressclass.py) and its effect on a build, as in Contour 1.33."""

from __future__ import annotations

from typing import Any

import pytest

from contour.dag import ingressclass
from contour.dag.builder import BuilderConfig

from .fixtures import k8s_service
from .ingress_fixtures import IngressBuilder, build_ingress, http_routes, ing, path

Obj = dict[str, Any]


@pytest.mark.parametrize(
    ("object_class", "configured", "expected"),
    [
        pytest.param("", (), True, id="no-class-default-config"),
        pytest.param("contour", (), True, id="contour-default-config"),
        pytest.param("nginx", (), False, id="other-default-config"),
        pytest.param("", ("internal",), False, id="no-class-configured"),
        pytest.param("contour", ("internal",), False, id="contour-when-configured-otherwise"),
        pytest.param("internal", ("internal",), True, id="configured"),
        pytest.param("external", ("internal", "external"), True, id="one-of-several"),
    ],
)
def test_matches_class(object_class: str, configured: tuple[str, ...], expected: bool) -> None:
    assert ingressclass.matches_class(object_class, configured) is expected


def _ingress(annotations: dict[str, str], spec_class: str | None) -> Obj:
    builder = ing("app")
    for key, value in annotations.items():
        builder.annotate(key, value)
    if spec_class is not None:
        builder.class_name(spec_class)
    return builder.rule("a.example.com", path("/", "kuard")).build()


CLASS_CASES = [
    pytest.param({}, None, (), True, id="unclassed-default-config"),
    pytest.param({}, "contour", (), True, id="spec-contour-default-config"),
    pytest.param({}, "nginx", (), False, id="spec-other-default-config"),
    pytest.param({"kubernetes.io/ingress.class": "contour"}, None, (), True, id="annotation-contour"),
    pytest.param({"kubernetes.io/ingress.class": "nginx"}, None, (), False, id="annotation-other"),
    pytest.param({}, None, ("internal",), False, id="unclassed-when-configured"),
    pytest.param({}, "internal", ("internal",), True, id="spec-configured"),
    pytest.param(
        {"kubernetes.io/ingress.class": "internal"}, "other", ("internal",), True, id="annotation-beats-spec"
    ),
    pytest.param(
        {"kubernetes.io/ingress.class": "other"},
        "internal",
        ("internal",),
        False,
        id="annotation-beats-spec-no",
    ),
    pytest.param(
        {"projectcontour.io/ingress.class": "internal", "kubernetes.io/ingress.class": "other"},
        None,
        ("internal",),
        True,
        id="contour-annotation-beats-kubernetes-annotation",
    ),
    pytest.param(
        {"projectcontour.io/ingress.class": "other", "kubernetes.io/ingress.class": "internal"},
        None,
        ("internal",),
        False,
        id="contour-annotation-beats-kubernetes-annotation-no",
    ),
    pytest.param(
        {"contour.heptio.com/ingress.class": "nginx"}, None, (), True, id="legacy-annotation-ignored"
    ),
]


@pytest.mark.parametrize(("annotations", "spec_class", "configured", "expected"), CLASS_CASES)
def test_matches_ingress(
    annotations: dict[str, str], spec_class: str | None, configured: tuple[str, ...], expected: bool
) -> None:
    assert ingressclass.matches_ingress(_ingress(annotations, spec_class), configured) is expected


@pytest.mark.parametrize(("annotations", "spec_class", "configured", "expected"), CLASS_CASES)
def test_build_serves_only_matching_ingresses(
    annotations: dict[str, str], spec_class: str | None, configured: tuple[str, ...], expected: bool
) -> None:
    result = build_ingress(
        _ingress(annotations, spec_class),
        k8s_service("kuard"),
        config=BuilderConfig(ingress_class_names=configured),
    )
    assert bool(http_routes(result.dag, "a.example.com")) is expected
    assert bool(result.statuses) is expected


def test_present_but_empty_contour_annotation_hides_kubernetes_annotation() -> None:
    obj = _ingress(
        {"projectcontour.io/ingress.class": "", "kubernetes.io/ingress.class": "nginx"}, "internal"
    )
    # projectcontour.io/ingress.class is present (empty), so the spec field decides.
    assert ingressclass.matches_ingress(obj, ("internal",))
    assert not ingressclass.matches_ingress(obj, ())


@pytest.mark.parametrize(
    ("annotations", "spec_class", "configured", "expected"),
    [
        pytest.param({}, None, (), True, id="unclassed"),
        pytest.param({}, "internal", ("internal",), True, id="spec"),
        pytest.param(
            {"projectcontour.io/ingress.class": "x"}, "internal", ("internal",), False, id="annotation"
        ),
    ],
)
def test_matches_httpproxy(
    annotations: dict[str, str], spec_class: str | None, configured: tuple[str, ...], expected: bool
) -> None:
    assert ingressclass.matches_httpproxy(annotations, spec_class, configured) is expected


def _ingress_class(name: str, controller: str, *, default: str | None = None, created: str = "") -> Obj:
    meta: Obj = {"name": name}
    if default is not None:
        meta["annotations"] = {ingressclass.IS_DEFAULT_CLASS: default}
    if created:
        meta["creationTimestamp"] = created
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": meta,
        "spec": {"controller": controller},
    }


CONTOUR = "projectcontour.io/ingress-controller"


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        pytest.param([], None, id="no-classes"),
        pytest.param([_ingress_class("contour", CONTOUR)], None, id="none-default"),
        pytest.param([_ingress_class("contour", CONTOUR, default="true")], "contour", id="one-default"),
        pytest.param(
            [_ingress_class("contour", CONTOUR, default="True")], None, id="annotation-must-be-true"
        ),
        pytest.param(
            [
                _ingress_class("old", CONTOUR, default="true", created="2024-01-01T00:00:00Z"),
                _ingress_class("new", "k8s.io/ingress-nginx", default="true", created="2025-01-01T00:00:00Z"),
            ],
            "new",
            id="newest-default-wins",
        ),
    ],
)
def test_default_ingress_class(classes: list[Obj], expected: str | None) -> None:
    assert ingressclass.default_ingress_class(classes) == expected


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(_ingress_class("contour", CONTOUR), True, id="contour-controller"),
        pytest.param(_ingress_class("nginx", "k8s.io/ingress-nginx"), False, id="other-controller"),
        pytest.param({"metadata": {"name": "x"}}, False, id="no-spec"),
    ],
)
def test_is_contour_ingress_class(obj: Obj, expected: bool) -> None:
    assert ingressclass.is_contour_ingress_class(obj) is expected


def test_ingress_class_objects_do_not_change_matching() -> None:
    """Contour never reads IngressClass objects: a default IngressClass for Contour adopts nothing."""
    unclassed: IngressBuilder = ing("app").rule("a.example.com", path("/", "kuard"))
    result = build_ingress(
        _ingress_class("internal", CONTOUR, default="true"),
        unclassed.build(),
        k8s_service("kuard"),
        config=BuilderConfig(ingress_class_names=("internal",)),
    )
    assert http_routes(result.dag, "a.example.com") == []
