"""Golden files of the renderers: the complete object set of three instances, compared byte for byte.

`UPDATE_GOLDEN=1 pytest tests/unit/provisioner` rewrites them; review the diff before committing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from contour.provisioner.model import InvalidParameters, ProvisionParams
from contour.provisioner.params import params_from_contour, params_from_gateway
from contour.provisioner.render import render
from tests.unit.provisioner.inputs import (
    CERTS,
    CONTOUR_DEPLOYMENT,
    DAEMONSET_CR,
    DEPLOYMENT_CR,
    GATEWAY,
    GATEWAY_CLASS,
)

GOLDEN_DIR = Path(__file__).parent / "golden"


def _params(case: str) -> ProvisionParams:
    found: ProvisionParams | InvalidParameters
    if case == "contour-daemonset":
        found = params_from_contour(DAEMONSET_CR)
    elif case == "contour-deployment":
        found = params_from_contour(DEPLOYMENT_CR)
    else:
        found = params_from_gateway(GATEWAY, GATEWAY_CLASS, CONTOUR_DEPLOYMENT)
    assert isinstance(found, ProvisionParams), found
    return found


CASES = ["contour-daemonset", "contour-deployment", "gateway-contourdeployment"]


def rendered_yaml(case: str) -> str:
    objects: list[Any] = list(render(_params(case), CERTS).objects)
    return yaml.safe_dump_all(objects, sort_keys=True, default_flow_style=False)


@pytest.mark.parametrize("case", CASES)
def test_rendered_objects_match_the_golden_file(case: str) -> None:
    path = GOLDEN_DIR / f"{case}.yaml"
    text = rendered_yaml(case)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"{path.name} drifted: rerun with UPDATE_GOLDEN=1 and review"
    )


@pytest.mark.parametrize("case", CASES)
def test_rendering_twice_gives_identical_bytes(case: str) -> None:
    assert rendered_yaml(case) == rendered_yaml(case)
