"""Every sample manifest parses into its generated model and dumps back unchanged; every invalid
manifest is refused with an error located at the field it names."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
from pydantic import ValidationError

from contour.api import registry
from tests.manifests import INVALID_DIR, documents, rel, sample_files

ALL_DOCS = [(path, i, doc) for path in sample_files() for i, doc in enumerate(documents(path))]
CONTOUR_KINDS = {r.kind for r in registry.RESOURCES}
# Kinds this product defines have generated models; the rest are Kubernetes' own.
SAMPLES = [(p, i, d) for p, i, d in ALL_DOCS if d.get("kind") in CONTOUR_KINDS]
CORE = [(p, i, d) for p, i, d in ALL_DOCS if d.get("kind") not in CONTOUR_KINDS]


def test_there_is_a_sample_for_every_kind() -> None:
    sampled = {doc["kind"] for _, _, doc in SAMPLES}
    assert CONTOUR_KINDS - sampled == set()


@pytest.mark.parametrize(
    "doc", [s[2] for s in SAMPLES], ids=[f"{rel(p)}#{i}-{d.get('kind')}" for p, i, d in SAMPLES]
)
def test_sample_round_trips_through_its_model(doc: dict[str, object]) -> None:
    model = registry.parse(doc)
    assert json.loads(json.dumps(model.dump())) == json.loads(json.dumps(doc))


@pytest.mark.parametrize(
    "doc", [c[2] for c in CORE], ids=[f"{rel(p)}#{i}-{d.get('kind')}" for p, i, d in CORE]
)
def test_kubernetes_objects_in_samples_validate_upstream(doc: dict[str, object]) -> None:
    kubernetes_validate.validate(doc, "1.37.0", strict=True)


def invalid_cases() -> list[tuple[Path, str]]:
    cases = []
    for path in sorted(INVALID_DIR.glob("*.yaml")):
        first = path.read_text("utf-8").splitlines()[0]
        assert first.startswith("# expect: "), f"{rel(path)} must start with '# expect: <field path>'"
        cases.append((path, first.removeprefix("# expect: ").strip()))
    return cases


def test_every_kind_has_invalid_manifests() -> None:
    kinds = {documents(path)[0]["kind"] for path, _ in invalid_cases()}
    assert CONTOUR_KINDS - kinds == set()


@pytest.mark.parametrize(
    ("path", "expected"), invalid_cases(), ids=lambda v: v.stem if isinstance(v, Path) else ""
)
def test_invalid_manifest_is_refused_naming_the_field(path: Path, expected: str) -> None:
    (doc,) = documents(path)
    with pytest.raises(ValidationError) as caught:
        registry.parse(doc)
    locations = [".".join(str(part) for part in error["loc"]) for error in caught.value.errors()]
    assert expected in locations, f"errors were at {locations}"
    assert expected in str(caught.value), "the message names the field"
