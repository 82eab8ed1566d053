"""The structural-schema checker: every CRD in crds/ passes, and each broken rule is reported with
the file and the JSON pointer of the offending node."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.crdfiles import CRDFile, load_crd
from codegen.structural import check_crd
from tests.manifests import REPO_ROOT, crd_files, rel, run_module

FIXTURE = REPO_ROOT / "tests" / "data" / "crd-fixtures" / "example.com_widgets.yaml"
ROOT = "/spec/versions/0/schema/openAPIV3Schema"
SPEC = f"{ROOT}/properties/spec"


@pytest.mark.parametrize("path", crd_files(), ids=rel)
def test_every_crd_is_structural(path: Path) -> None:
    problems = check_crd(load_crd(path))
    assert [str(p) for p in problems] == []


def test_the_fixture_is_structural() -> None:
    assert check_crd(load_crd(FIXTURE)) == []


def spec_props(doc: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]
    return props


def untyped(doc: dict[str, Any]) -> None:
    del spec_props(doc)["hostname"]["type"]


def array_without_items(doc: dict[str, Any]) -> None:
    del spec_props(doc)["from"]["items"]


def object_without_fields(doc: dict[str, Any]) -> None:
    del spec_props(doc)["labels"]["additionalProperties"]


def no_description(doc: dict[str, Any]) -> None:
    del spec_props(doc)["weight"]["description"]


def bad_default(doc: dict[str, Any]) -> None:
    spec_props(doc)["weight"]["default"] = "heavy"


def default_outside_enum(doc: dict[str, Any]) -> None:
    spec_props(doc)["from"]["items"]["properties"]["type"]["default"] = "Regex"


def default_breaks_bound(doc: dict[str, Any]) -> None:
    spec_props(doc)["weight"]["default"] = -1


def ref_used(doc: dict[str, Any]) -> None:
    spec_props(doc)["raw"] = {"$ref": "#/definitions/Raw", "description": "x"}


def type_inside_anyof(doc: dict[str, Any]) -> None:
    spec_props(doc)["hostname"]["anyOf"] = [{"type": "string", "maxLength": 3}]


def undeclared_field_in_oneof(doc: dict[str, Any]) -> None:
    spec = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["oneOf"] = [{"required": ["hostname"]}, {"required": ["nickname"]}]


def metadata_restricted(doc: dict[str, Any]) -> None:
    root = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    root["properties"]["metadata"] = {"type": "object", "properties": {"labels": {"type": "object"}}}


def list_map_without_keys(doc: dict[str, Any]) -> None:
    status = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    del status["properties"]["conditions"]["x-kubernetes-list-map-keys"]


def two_storage_versions(doc: dict[str, Any]) -> None:
    second = copy.deepcopy(doc["spec"]["versions"][0])
    second["name"] = "v2"
    doc["spec"]["versions"].append(second)


def bad_pattern(doc: dict[str, Any]) -> None:
    spec_props(doc)["hostname"]["pattern"] = "^(?=lookahead)$"


def unknown_keyword(doc: dict[str, Any]) -> None:
    spec_props(doc)["hostname"]["maxLenght"] = 3


def int_or_string_with_type(doc: dict[str, Any]) -> None:
    spec_props(doc)["from"]["items"]["properties"]["port"]["type"] = "string"


def cel_without_rule(doc: dict[str, Any]) -> None:
    spec = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["x-kubernetes-validations"] = [{"message": "no rule"}]


def wrong_name(doc: dict[str, Any]) -> None:
    doc["metadata"]["name"] = "widgets.example.org"


BROKEN: list[tuple[Callable[[dict[str, Any]], None], str, str]] = [
    (untyped, f"{SPEC}/properties/hostname", "needs a type"),
    (array_without_items, f"{SPEC}/properties/from", "needs items"),
    (object_without_fields, f"{SPEC}/properties/labels", "needs properties"),
    (no_description, f"{SPEC}/properties/weight/description", "needs a description"),
    (bad_default, f"{SPEC}/properties/weight/default", "not of type integer"),
    (default_outside_enum, f"{SPEC}/properties/from/items/properties/type/default", "not one of"),
    (default_breaks_bound, f"{SPEC}/properties/weight/default", "below the minimum"),
    (ref_used, f"{SPEC}/properties/raw/$ref", "not allowed"),
    (type_inside_anyof, f"{SPEC}/properties/hostname/anyOf/0/type", "may not be set inside"),
    (undeclared_field_in_oneof, f"{SPEC}/oneOf/1/required", "'nickname' must also be declared"),
    (metadata_restricted, f"{ROOT}/properties/metadata/properties/labels", "only metadata.name"),
    (
        list_map_without_keys,
        f"{ROOT}/properties/status/properties/conditions",
        "needs x-kubernetes-list-map-keys",
    ),
    (two_storage_versions, "/spec/versions", "exactly one version must be the storage version"),
    (bad_pattern, f"{SPEC}/properties/hostname/pattern", "not a valid regular expression"),
    (unknown_keyword, f"{SPEC}/properties/hostname/maxLenght", "unknown schema keyword"),
    (int_or_string_with_type, f"{SPEC}/properties/from/items/properties/port/type", "has no type"),
    (cel_without_rule, f"{SPEC}/x-kubernetes-validations/0", "needs a non-empty rule"),
    (wrong_name, "/metadata/name", "<plural>.<group>"),
]


@pytest.mark.parametrize(("breakage", "pointer", "message"), BROKEN, ids=[b[0].__name__ for b in BROKEN])
def test_each_broken_rule_is_reported_at_its_pointer(
    breakage: Callable[[dict[str, Any]], None], pointer: str, message: str
) -> None:
    doc = yaml.safe_load(FIXTURE.read_text("utf-8"))
    breakage(doc)
    problems = check_crd(CRDFile(FIXTURE, doc))
    found = [(p.pointer, p.message) for p in problems]
    assert any(p == pointer and message in m for p, m in found), found
    assert all(str(p).startswith("tests/data/crd-fixtures/example.com_widgets.yaml: ") for p in problems)


def test_the_command_names_file_and_pointer(tmp_path: Path) -> None:
    doc = yaml.safe_load(FIXTURE.read_text("utf-8"))
    untyped(doc)
    broken = tmp_path / "example.com_widgets.yaml"
    broken.write_text(yaml.safe_dump(doc))
    done = run_module("codegen.structural", str(broken))
    assert done.returncode == 1
    assert f"{broken}: {SPEC}/properties/hostname: every node needs a type" in done.stderr
