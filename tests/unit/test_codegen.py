"""The generator: readable names, faithful types and constraints, and errors that point at the schema."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from codegen import models
from codegen.__main__ import expected_files, out_of_date
from codegen.crdfiles import load_crd
from codegen.naming import pascal, singular
from tests.manifests import REPO_ROOT, run_module

FIXTURE = REPO_ROOT / "tests" / "data" / "crd-fixtures" / "example.com_widgets.yaml"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jwtProviders", "JWTProviders"),
        ("virtualhost", "VirtualHost"),
        ("ipAllowPolicy", "IPAllowPolicy"),
        ("tcpproxy", "TCPProxy"),
        ("caSecret", "CASecret"),
        ("backendRefs", "BackendRefs"),
        ("per-connection-buffer-limit-bytes", "PerConnectionBufferLimitBytes"),
        ("remoteJWKS", "RemoteJWKS"),
    ],
)
def test_class_names_read_like_the_go_api(name: str, expected: str) -> None:
    assert pascal(name) == expected


@pytest.mark.parametrize(
    ("plural", "expected"),
    [
        ("routes", "route"),
        ("policies", "policy"),
        ("addresses", "address"),
        ("matches", "match"),
        ("expectedStatuses", "expectedStatus"),
        ("status", "status"),
        ("tls", "tls"),
        ("headers", "header"),
    ],
)
def test_list_items_are_named_in_the_singular(plural: str, expected: str) -> None:
    assert singular(plural) == expected


@pytest.fixture(scope="module")
def widgets(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The fixture CRD generated and imported as a module, as codegen does for crds/."""
    models.PACKAGES.setdefault("example.com", "example")
    (gv,) = models.group_versions([load_crd(FIXTURE)])
    path = tmp_path_factory.mktemp("generated") / "widgets_v1.py"
    path.write_text(models.render_module(gv))
    spec = importlib.util.spec_from_file_location("widgets_v1", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["widgets_v1"] = module
    spec.loader.exec_module(module)
    return module


def test_module_holds_readable_classes_and_a_resource_table(widgets: ModuleType) -> None:
    names = {n for n in vars(widgets) if isinstance(getattr(widgets, n), type)}
    assert {
        "Widget",
        "WidgetSpec",
        "WidgetStatus",
        "From",
        "Allowed",
        "Namespaces",
        "WidgetCondition",
    } <= names
    # "Condition" is kept for the metav1.Condition shape; a different shape named conditions is prefixed.
    assert not any(n.startswith("Model") or n[-1].isdigit() for n in names)
    (resource,) = widgets.RESOURCES
    assert (resource.api_version, resource.kind, resource.plural, resource.namespaced) == (
        "example.com/v1",
        "Widget",
        "widgets",
        True,
    )
    assert resource.model is widgets.Widget


def widget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}


def test_snake_case_fields_camel_case_wire_and_hand_written_metadata(widgets: ModuleType) -> None:
    w = widgets.Widget.model_validate(
        widget(**{"from": [{"type": "Exact", "port": "http", "json": True}], "hostname": "a.b"})
    )
    assert w.spec.from_[0].json_ is True
    assert w.spec.from_[0].port == "http"
    assert type(w.metadata).__module__ == "contour.api.meta"
    assert w.dump()["spec"]["from"] == [{"type": "Exact", "port": "http", "json": True}]


def test_int_or_string_keeps_the_form_it_was_given(widgets: ModuleType) -> None:
    for port in (8080, "http"):
        w = widgets.Widget.model_validate(widget(**{"from": [{"type": "Exact", "port": port}]}))
        assert w.dump()["spec"]["from"][0]["port"] == port


def test_defaults_apply_but_are_not_dumped(widgets: ModuleType) -> None:
    w = widgets.Widget.model_validate(widget())
    assert w.spec.weight == 1
    assert w.spec.allowed.namespaces.from_ == "Same"
    assert w.dump()["spec"] == {}


@pytest.mark.parametrize(
    ("spec", "location"),
    [
        ({"weight": "1"}, "spec.weight"),
        ({"weight": 1000001}, "spec.weight"),
        ({"hostname": "Upper.Case"}, "spec.hostname"),
        ({"hostname": "a" * 254}, "spec.hostname"),
        ({"from": [{"type": "Regex"}]}, "spec.from.0.type"),
        ({"from": [{}]}, "spec.from.0.type"),
        ({"from": [{"type": "Exact"}] * 5}, "spec.from"),
        ({"labels": {str(i): "x" for i in range(9)}}, "spec.labels"),
        ({"colour": "red"}, "spec.colour"),
        ({"from": [{"type": "Exact", "json": "yes"}]}, "spec.from.0.json"),
    ],
    ids=[
        "string-for-integer",
        "above-maximum",
        "pattern",
        "max-length",
        "enum",
        "required",
        "max-items",
        "max-properties",
        "unknown-field",
        "string-for-boolean",
    ],
)
def test_schema_constraints_are_enforced(widgets: ModuleType, spec: dict[str, Any], location: str) -> None:
    with pytest.raises(ValidationError) as caught:
        widgets.Widget.model_validate(widget(**spec))
    assert location in [".".join(map(str, e["loc"])) for e in caught.value.errors()]


def test_preserved_unknown_fields_stay_free_form(widgets: ModuleType) -> None:
    w = widgets.Widget.model_validate(widget(raw={"anything": [1, {"x": None}]}))
    assert w.dump()["spec"]["raw"] == {"anything": [1, {"x": None}]}


def test_a_malformed_schema_stops_codegen_with_file_and_pointer(tmp_path: Path) -> None:
    doc = yaml.safe_load(FIXTURE.read_text("utf-8"))
    spec = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["weight"]["type"] = "int"
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / FIXTURE.name).write_text(yaml.safe_dump(doc))
    done = run_module("codegen", "--check", "--crds", str(crds))
    assert done.returncode == 1
    pointer = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/weight/type"
    assert f"{crds / FIXTURE.name}: {pointer}: unknown type 'int'" in done.stderr


def test_a_file_that_is_not_yaml_stops_codegen(tmp_path: Path) -> None:
    crds = tmp_path / "crds"
    crds.mkdir()
    shutil.copy(FIXTURE, crds / FIXTURE.name)
    (crds / "broken.yaml").write_text("spec: [unclosed\n")
    done = run_module("codegen", "--check", "--crds", str(crds))
    assert done.returncode == 1
    assert f"{crds / 'broken.yaml'}: /: not valid YAML" in done.stderr


def test_the_check_finds_a_changed_or_missing_generated_file(tmp_path: Path) -> None:
    current = tmp_path / "current.py"
    current.write_text("same\n")
    edited = tmp_path / "edited.py"
    edited.write_text("edited by hand\n")
    missing = tmp_path / "missing.py"
    files = {current: "same\n", edited: "generated\n", missing: "generated\n"}
    assert out_of_date(files) == [edited, missing]


def test_the_repository_is_current() -> None:
    assert [str(p) for p in out_of_date(expected_files())] == []
