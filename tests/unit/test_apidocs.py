"""docs/api-reference.md covers every kind and version of crds/, and its links resolve."""

from __future__ import annotations

import re

import pytest

from codegen.crdfiles import CRDFile, load_all
from tests.manifests import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "api-reference.md").read_text("utf-8")
CRDS = load_all()


@pytest.mark.parametrize("crd", CRDS, ids=lambda c: c.kind)
def test_every_kind_and_version_is_described(crd: CRDFile) -> None:
    assert f"### {crd.kind}\n" in DOC
    for version in crd.versions():
        assert f"{version['name']} (" in DOC
    for version in crd.served_versions():
        anchor = f"{crd.group}-{version['name']}-{crd.kind}".lower().replace(".", "-")
        assert f'<a id="{anchor}"></a>' in DOC


def test_every_internal_link_has_an_anchor() -> None:
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', DOC))
    links = set(re.findall(r"\]\(#([^)]+)\)", DOC))
    assert links - anchors == set()


def test_fields_show_defaults_enums_and_rules() -> None:
    assert "| `weight` | integer |  | `1` |" in DOC
    assert "one of `Exact`, `PathPrefix`, `RegularExpression`" in DOC
    assert "rule: " in DOC
