"""Every rendered object validates: built-in kinds with kubernetes-validate (strict: no unknown field)
against each Kubernetes version Contour 1.33 supports, the ContourConfiguration against our CRD."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

from contour.provisioner.render import render
from tests.unit.crd_validators import validator
from tests.unit.provisioner.inputs import CERTS
from tests.unit.provisioner.test_golden import CASES, _params

# Contour 1.33's compatibility matrix: Kubernetes 1.31, 1.32 and 1.33.
KUBERNETES_VERSIONS = ("1.31.0", "1.32.0", "1.33.0")


def _objects() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for case in CASES:
        for obj in render(_params(case), CERTS).objects:
            out.append(
                (
                    f"{case}/{obj['kind']}/{obj['metadata'].get('namespace', '-')}/{obj['metadata']['name']}",
                    obj,
                )
            )
    return out


BUILTIN = [(key, obj) for key, obj in _objects() if obj["kind"] != "ContourConfiguration"]
CUSTOM = [(key, obj) for key, obj in _objects() if obj["kind"] == "ContourConfiguration"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(("key", "obj"), BUILTIN, ids=[key for key, _ in BUILTIN])
def test_builtin_object_validates_against_kubernetes_schema(
    key: str, obj: dict[str, Any], version: str
) -> None:
    kubernetes_validate.validate(copy.deepcopy(obj), version, strict=True)


@pytest.mark.parametrize(("key", "obj"), CUSTOM, ids=[key for key, _ in CUSTOM])
def test_contour_configuration_validates_against_its_crd(key: str, obj: dict[str, Any]) -> None:
    _, causes, unknown = validator(obj["apiVersion"], obj["kind"]).prepare(copy.deepcopy(obj), None)
    assert [c.as_dict() for c in causes] == []
    assert unknown == []


def test_validation_catches_a_broken_object() -> None:
    """The check above can fail: a Deployment with a string replica count is rejected."""
    _, deployment = next((k, o) for k, o in BUILTIN if o["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)
