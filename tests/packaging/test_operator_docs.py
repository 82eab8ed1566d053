"""docs/operator.md documents every field of the Contour CR and of ContourDeployment: each field path of
their CRD schemas appears in it. `python -m tests.packaging.test_operator_docs` prints the field tables
the doc holds, generated from crds/, to paste in when a CRD changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contour.api import registry
from tests.manifests import REPO_ROOT

DOC = REPO_ROOT / "docs" / "operator.md"
CRDS = {
    "Contour": REPO_ROOT / "crds" / "operator.projectcontour.io_contours.yaml",
    "ContourDeployment": REPO_ROOT / "crds" / "projectcontour.io_contourdeployments.yaml",
}


def spec_schema(path: Path) -> dict[str, Any]:
    crd = yaml.safe_load(path.read_text("utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    return dict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])


def fields(schema: dict[str, Any], prefix: str = "spec") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, schema) of every property below `schema`, depth first; list items add `[]`."""
    for name, child in sorted(schema.get("properties", {}).items()):
        path = f"{prefix}.{name}"
        yield path, child
        yield from fields(child, path)
        if isinstance(child.get("items"), dict):
            yield from fields(child["items"], path + "[]")
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        yield from fields(additional, prefix + ".*")


def summary(schema: dict[str, Any]) -> str:
    text = " ".join(str(schema.get("description", "")).split())
    first = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return first.replace("|", "\\|")


def kind_of(schema: dict[str, Any]) -> str:
    kind = str(schema.get("type", "object" if "properties" in schema else "any"))
    if kind == "array" and isinstance(schema.get("items"), dict):
        kind = f"[]{schema['items'].get('type', 'object')}"
    if "enum" in schema:
        kind += " (" + ", ".join(str(v) for v in schema["enum"]) + ")"
    if "default" in schema and schema["default"] not in ({}, []):
        kind += f", default {schema['default']}"
    return kind.replace("|", "\\|")


def table(kind: str) -> str:
    rows = ["| Field | Type | Description |", "|---|---|---|"]
    rows += [f"| `{p}` | {kind_of(s)} | {summary(s)} |" for p, s in fields(spec_schema(CRDS[kind]))]
    return "\n".join(rows)


DOC_TEXT = DOC.read_text("utf-8") if DOC.exists() else ""
DOCUMENTED = set(re.findall(r"`(spec\.[^`\s]+)`", DOC_TEXT))


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_every_field_path_appears_in_the_doc(kind: str) -> None:
    paths = [p for p, _ in fields(spec_schema(CRDS[kind]))]
    assert len(paths) > 100
    missing = [p for p in paths if p not in DOCUMENTED]
    assert missing == [], f"docs/operator.md lacks {len(missing)} {kind} fields, first: {missing[:5]}"


def test_every_documented_path_exists() -> None:
    known = {p for kind in CRDS for p, _ in fields(spec_schema(CRDS[kind]))}
    assert sorted(DOCUMENTED - known) == []


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_the_doc_has_a_yaml_example_of(kind: str) -> None:
    examples = re.findall(r"```yaml\n(.*?)```", DOC_TEXT, flags=re.DOTALL)
    kinds = {
        doc.get("kind") for text in examples for doc in yaml.safe_load_all(text) if isinstance(doc, dict)
    }
    assert kind in kinds


def test_the_doc_examples_are_valid_resources() -> None:
    examples = re.findall(r"```yaml\n(.*?)```", DOC_TEXT, flags=re.DOTALL)
    parsed = [doc for text in examples for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    ours = [doc for doc in parsed if doc.get("kind") in {r.kind for r in registry.RESOURCES}]
    assert len(ours) >= 4
    for doc in ours:
        registry.parse(doc)


@pytest.mark.parametrize(
    "topic",
    [
        "kubectl apply -f config/install.yaml",
        "## DaemonSet or Deployment",
        "## TLS between Envoy and Contour",
        "## Redeploying Envoy",
        "## Resource limits",
        "## What a real cluster must still verify",
    ],
)
def test_the_doc_covers(topic: str) -> None:
    assert topic in DOC_TEXT


if __name__ == "__main__":
    for name in sorted(CRDS):
        print(f"### {name} fields\n\n{table(name)}\n")
