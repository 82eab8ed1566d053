"""The structural-schema rules of apiextensions.k8s.io/v1, checked before anything is generated.

The API server refuses a CRD whose schema is not structural
(https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema)
and ignores or rejects keywords that v1 does not allow. This module finds those problems in crds/
and names each by file and JSON pointer. It also enforces two house rules: every property carries
a description (the API reference is generated from them) and defaults/enums validate against their
own node.

Run it on files: `python -m codegen.structural crds/FILE.yaml ...` (no argument: every file).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import re2

from codegen.crdfiles import CRD_DIR, CRDError, CRDFile, display_path, load_crd

# Keywords of JSONSchemaProps that a v1 CRD may use.
ALLOWED_KEYWORDS = frozenset(
    {
        "description",
        "type",
        "format",
        "title",
        "default",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "multipleOf",
        "enum",
        "maxProperties",
        "minProperties",
        "required",
        "items",
        "allOf",
        "oneOf",
        "anyOf",
        "not",
        "properties",
        "additionalProperties",
        "externalDocs",
        "example",
        "nullable",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-list-type",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
    }
)
# Present in JSONSchemaProps but refused in apiextensions.k8s.io/v1 CRDs.
FORBIDDEN_KEYWORDS = frozenset(
    {"$ref", "$schema", "id", "definitions", "dependencies", "additionalItems", "patternProperties"}
)
TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})
JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
# Keywords a value-validation junctor may not set (they would change the structure).
JUNCTOR_FORBIDDEN = frozenset({"description", "type", "default", "additionalProperties", "nullable"})
LIST_TYPES = frozenset({"atomic", "set", "map"})
MAP_TYPES = frozenset({"atomic", "granular"})
VALIDATION_REASONS = frozenset(
    {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}
)
PRINTER_TYPES = frozenset({"integer", "number", "string", "boolean", "date"})
INT_OR_STRING_ANYOF = [{"type": "integer"}, {"type": "string"}]
SCOPES = frozenset({"Namespaced", "Cluster"})
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def escape(token: str) -> str:
    """Escape one JSON pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


class Checker:
    """Collects every problem of one CRD file instead of stopping at the first."""

    def __init__(self, crd: CRDFile) -> None:
        self.crd = crd
        self.problems: list[CRDError] = []

    def fail(self, pointer: str, message: str) -> None:
        self.problems.append(CRDError(self.crd.path, pointer, message))

    # -- the CustomResourceDefinition object --------------------------------------------------

    def check(self) -> list[CRDError]:
        doc = self.crd.doc
        if doc.get("apiVersion") != "apiextensions.k8s.io/v1":
            self.fail("/apiVersion", "must be apiextensions.k8s.io/v1")
        if doc.get("kind") != "CustomResourceDefinition":
            self.fail("/kind", "must be CustomResourceDefinition")
        spec = doc.get("spec")
        if not isinstance(spec, dict):
            self.fail("/spec", "missing or not a mapping")
            return self.problems
        names = spec.get("names")
        group = spec.get("group")
        if not isinstance(group, str) or "." not in group:
            self.fail("/spec/group", "must be a DNS subdomain with at least one dot")
        if not isinstance(names, dict):
            self.fail("/spec/names", "missing or not a mapping")
            return self.problems
        for key in ("kind", "plural", "singular", "listKind"):
            if not isinstance(names.get(key), str) or not names[key]:
                self.fail(f"/spec/names/{key}", "required")
        for key in ("plural", "singular"):
            value = names.get(key)
            if isinstance(value, str) and not DNS_LABEL.match(value):
                self.fail(f"/spec/names/{key}", "must be a lower-case DNS label")
        expected_name = f"{names.get('plural')}.{group}"
        if doc.get("metadata", {}).get("name") != expected_name:
            self.fail("/metadata/name", f"must be {expected_name!r} (<plural>.<group>)")
        if spec.get("scope") not in SCOPES:
            self.fail("/spec/scope", "must be Namespaced or Cluster")
        versions = spec.get("versions")
        if not isinstance(versions, list) or not versions:
            self.fail("/spec/versions", "at least one version is required")
            return self.problems
        storage = [i for i, v in enumerate(versions) if isinstance(v, dict) and v.get("storage") is True]
        if len(storage) != 1:
            self.fail(
                "/spec/versions", f"exactly one version must be the storage version, found {len(storage)}"
            )
        seen: set[str] = set()
        for i, version in enumerate(versions):
            self.check_version(f"/spec/versions/{i}", version, seen)
        return self.problems

    def check_version(self, pointer: str, version: Any, seen: set[str]) -> None:
        if not isinstance(version, dict):
            self.fail(pointer, "a version must be a mapping")
            return
        name = version.get("name")
        if not isinstance(name, str) or not re.match(r"^v[0-9]+((alpha|beta)[0-9]+)?$", name):
            self.fail(f"{pointer}/name", "must look like v1, v1beta1 or v1alpha2")
        elif name in seen:
            self.fail(f"{pointer}/name", f"version {name} is listed twice")
        else:
            seen.add(name)
        for flag in ("served", "storage"):
            if not isinstance(version.get(flag), bool):
                self.fail(f"{pointer}/{flag}", "must be a boolean")
        for j, column in enumerate(version.get("additionalPrinterColumns") or []):
            cp = f"{pointer}/additionalPrinterColumns/{j}"
            if not isinstance(column, dict):
                self.fail(cp, "must be a mapping")
                continue
            if not column.get("name"):
                self.fail(f"{cp}/name", "required")
            if column.get("type") not in PRINTER_TYPES:
                self.fail(f"{cp}/type", f"must be one of {sorted(PRINTER_TYPES)}")
            path = column.get("jsonPath")
            if not isinstance(path, str) or not path.startswith("."):
                self.fail(f"{cp}/jsonPath", "must be a JSONPath starting with '.'")
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            self.fail(f"{pointer}/schema/openAPIV3Schema", "every version needs a schema")
            return
        self.check_root(f"{pointer}/schema/openAPIV3Schema", schema)

    # -- schemas ------------------------------------------------------------------------------

    def check_root(self, pointer: str, schema: dict[str, Any]) -> None:
        if schema.get("type") != "object":
            self.fail(f"{pointer}/type", "the root schema must be of type object")
        props = schema.get("properties") or {}
        metadata = props.get("metadata")
        if metadata is not None:
            extra = set(metadata) - {"type", "description", "properties"}
            if metadata.get("type") != "object" or extra:
                self.fail(f"{pointer}/properties/metadata", "metadata may only be declared as type object")
            for field in metadata.get("properties") or {}:
                if field not in ("name", "generateName"):
                    self.fail(
                        f"{pointer}/properties/metadata/properties/{escape(field)}",
                        "only metadata.name and metadata.generateName may be restricted",
                    )
        for field in ("apiVersion", "kind"):
            if field in props and props[field].get("type") != "string":
                self.fail(f"{pointer}/properties/{field}/type", "must be string")
        self.check_node(pointer, schema, is_property=False, skip_properties={"metadata"})

    def check_node(
        self,
        pointer: str,
        node: Any,
        *,
        is_property: bool,
        skip_properties: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        if not isinstance(node, dict):
            self.fail(pointer, "a schema node must be a mapping")
            return
        for key in node:
            if key in FORBIDDEN_KEYWORDS:
                self.fail(f"{pointer}/{escape(key)}", f"{key} is not allowed in apiextensions.k8s.io/v1")
            elif key not in ALLOWED_KEYWORDS:
                self.fail(f"{pointer}/{escape(key)}", f"unknown schema keyword {key!r}")
        if node.get("uniqueItems") is True:
            self.fail(
                f"{pointer}/uniqueItems", "uniqueItems: true is not allowed; use x-kubernetes-list-type: set"
            )
        int_or_string = node.get("x-kubernetes-int-or-string") is True
        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        node_type = node.get("type")
        if node_type is None:
            if not (int_or_string or preserve):
                self.fail(pointer, "every node needs a type (or x-kubernetes-int-or-string)")
        elif node_type not in TYPES:
            self.fail(f"{pointer}/type", f"unknown type {node_type!r}")
        if int_or_string:
            if node_type is not None:
                self.fail(f"{pointer}/type", "an x-kubernetes-int-or-string node has no type")
            any_of = node.get("anyOf")
            if any_of is not None and any_of != INT_OR_STRING_ANYOF:
                self.fail(
                    f"{pointer}/anyOf", "int-or-string allows only anyOf [{type: integer}, {type: string}]"
                )
        if is_property and not node.get("description"):
            self.fail(f"{pointer}/description", "every property needs a description")
        if "properties" in node and "additionalProperties" in node:
            self.fail(pointer, "properties and additionalProperties are mutually exclusive")
        if node_type == "object" and not ("properties" in node or "additionalProperties" in node or preserve):
            self.fail(pointer, "an object needs properties, additionalProperties or preserve-unknown-fields")
        if node_type == "array" and "items" not in node:
            self.fail(pointer, "an array needs items")
        if "items" in node and node_type != "array":
            self.fail(f"{pointer}/items", "items is only allowed on arrays")
        if "properties" in node and node_type not in ("object", None):
            self.fail(f"{pointer}/properties", "properties are only allowed on objects")
        self.check_constraints(pointer, node, node_type)
        self.check_list_markers(pointer, node, node_type)
        self.check_validations(pointer, node)
        self.check_junctors(pointer, node, int_or_string)

        props = node.get("properties") or {}
        if not isinstance(props, dict):
            self.fail(f"{pointer}/properties", "must be a mapping")
            props = {}
        for req in node.get("required") or []:
            if req not in props and not preserve:
                self.fail(f"{pointer}/required", f"required field {req!r} is not declared in properties")
        for name, child in props.items():
            if name in skip_properties:
                continue
            self.check_node(f"{pointer}/properties/{escape(name)}", child, is_property=True)
        additional = node.get("additionalProperties")
        if isinstance(additional, dict):
            self.check_node(f"{pointer}/additionalProperties", additional, is_property=False)
        elif additional is not None and additional is not False:
            self.fail(f"{pointer}/additionalProperties", "must be a schema")
        if "items" in node:
            items = node["items"]
            if isinstance(items, list):
                self.fail(f"{pointer}/items", "items must be a single schema, not a list")
            else:
                self.check_node(f"{pointer}/items", items, is_property=False)

    def check_constraints(self, pointer: str, node: dict[str, Any], node_type: Any) -> None:
        if "pattern" in node:
            try:
                re2.compile(node["pattern"])
            except re2.error as exc:
                self.fail(f"{pointer}/pattern", f"not a valid regular expression: {exc}")
        for i, value in enumerate(node.get("enum") or []):
            problem = value_problem(node, value, check_enum=False)
            if problem:
                self.fail(f"{pointer}/enum/{i}", problem)
        if "default" in node and not (node.get("nullable") is True and node["default"] is None):
            problem = value_problem(node, node["default"], check_enum=True)
            if problem:
                self.fail(f"{pointer}/default", f"the default does not validate: {problem}")
        for low, high in (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems")):
            if low in node and high in node and node[low] > node[high]:
                self.fail(f"{pointer}/{low}", f"{low} is greater than {high}")
        if node_type == "string":
            for key in ("minimum", "maximum", "minItems", "maxItems"):
                if key in node:
                    self.fail(f"{pointer}/{key}", f"{key} does not apply to strings")

    def check_list_markers(self, pointer: str, node: dict[str, Any], node_type: Any) -> None:
        list_type = node.get("x-kubernetes-list-type")
        if list_type is not None:
            if node_type != "array":
                self.fail(f"{pointer}/x-kubernetes-list-type", "only arrays have a list type")
            if list_type not in LIST_TYPES:
                self.fail(f"{pointer}/x-kubernetes-list-type", f"must be one of {sorted(LIST_TYPES)}")
        keys = node.get("x-kubernetes-list-map-keys")
        if list_type == "map":
            items = node.get("items") or {}
            if not keys:
                self.fail(pointer, "a list of type map needs x-kubernetes-list-map-keys")
            elif items.get("type") != "object":
                self.fail(f"{pointer}/items", "a list of type map needs object items")
            else:
                item_props = items.get("properties") or {}
                item_required = set(items.get("required") or [])
                for key in keys:
                    if key not in item_props:
                        self.fail(f"{pointer}/x-kubernetes-list-map-keys", f"key {key!r} is not a property")
                    elif key not in item_required and "default" not in item_props[key]:
                        self.fail(
                            f"{pointer}/x-kubernetes-list-map-keys",
                            f"key {key!r} must be required or have a default",
                        )
        elif keys is not None:
            self.fail(f"{pointer}/x-kubernetes-list-map-keys", "only lists of type map have map keys")
        if list_type == "set":
            item_type = (node.get("items") or {}).get("type")
            if item_type in ("object", "array"):
                self.fail(f"{pointer}/x-kubernetes-list-type", "a set holds scalars only")
        map_type = node.get("x-kubernetes-map-type")
        if map_type is not None:
            if node_type != "object":
                self.fail(f"{pointer}/x-kubernetes-map-type", "only objects have a map type")
            if map_type not in MAP_TYPES:
                self.fail(f"{pointer}/x-kubernetes-map-type", f"must be one of {sorted(MAP_TYPES)}")

    def check_validations(self, pointer: str, node: dict[str, Any]) -> None:
        rules = node.get("x-kubernetes-validations")
        if rules is None:
            return
        if not isinstance(rules, list):
            self.fail(f"{pointer}/x-kubernetes-validations", "must be a list")
            return
        for i, rule in enumerate(rules):
            rp = f"{pointer}/x-kubernetes-validations/{i}"
            if (
                not isinstance(rule, dict)
                or not isinstance(rule.get("rule"), str)
                or not rule["rule"].strip()
            ):
                self.fail(rp, "every validation needs a non-empty rule")
                continue
            extra = set(rule) - {
                "rule",
                "message",
                "messageExpression",
                "reason",
                "fieldPath",
                "optionalOldSelf",
            }
            if extra:
                self.fail(rp, f"unknown keys {sorted(extra)}")
            if "reason" in rule and rule["reason"] not in VALIDATION_REASONS:
                self.fail(f"{rp}/reason", f"must be one of {sorted(VALIDATION_REASONS)}")
            message = rule.get("message")
            if message is not None and (not isinstance(message, str) or "\n" in message.strip()):
                self.fail(f"{rp}/message", "must be a single-line string")
            if "oldSelf" not in rule["rule"] and rule.get("optionalOldSelf") is not None:
                self.fail(f"{rp}/optionalOldSelf", "only for transition rules that use oldSelf")

    def check_junctors(self, pointer: str, node: dict[str, Any], int_or_string: bool) -> None:
        declared = set((node.get("properties") or {}).keys())
        for junctor in JUNCTORS:
            if junctor not in node:
                continue
            if junctor == "anyOf" and int_or_string:
                continue
            branches = node[junctor]
            branch_list = [branches] if junctor == "not" else branches
            if not isinstance(branch_list, list):
                self.fail(f"{pointer}/{junctor}", "must be a list of schemas")
                continue
            for i, branch in enumerate(branch_list):
                bp = f"{pointer}/{junctor}" if junctor == "not" else f"{pointer}/{junctor}/{i}"
                self.check_junctor_branch(bp, branch, declared, node.get("items"))

    def check_junctor_branch(self, pointer: str, branch: Any, declared: set[str], outer_items: Any) -> None:
        if not isinstance(branch, dict):
            self.fail(pointer, "must be a schema")
            return
        for key in branch:
            if key in JUNCTOR_FORBIDDEN:
                self.fail(f"{pointer}/{escape(key)}", f"{key} may not be set inside allOf/anyOf/oneOf/not")
            elif key in FORBIDDEN_KEYWORDS or key not in ALLOWED_KEYWORDS:
                self.fail(f"{pointer}/{escape(key)}", f"keyword {key!r} is not allowed")
        for name in branch.get("properties") or {}:
            if name not in declared:
                self.fail(
                    f"{pointer}/properties/{escape(name)}",
                    f"field {name!r} must also be declared outside the junctor",
                )
        for name in branch.get("required") or []:
            if name not in declared:
                self.fail(f"{pointer}/required", f"field {name!r} must also be declared outside the junctor")
        if "items" in branch and outer_items is None:
            self.fail(f"{pointer}/items", "items must also be declared outside the junctor")


def value_problem(node: dict[str, Any], value: Any, *, check_enum: bool) -> str | None:
    """Why `value` does not validate against `node` (type, enum, bounds, nested shape), or None."""
    node_type = node.get("type")
    if node.get("x-kubernetes-int-or-string") is True:
        if isinstance(value, bool) or not isinstance(value, int | str):
            return f"{value!r} is neither an integer nor a string"
        return None
    if value is None:
        return None if node.get("nullable") is True else "null is not allowed"
    checks: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "object": dict,
        "array": list,
    }
    expected = checks.get(node_type) if isinstance(node_type, str) else None
    if expected is not None:
        wrong_bool = isinstance(value, bool) and node_type in ("integer", "number")
        if wrong_bool or not isinstance(value, expected):
            return f"{value!r} is not of type {node_type}"
    if check_enum and "enum" in node and value not in node["enum"]:
        return f"{value!r} is not one of {node['enum']}"
    if isinstance(value, str):
        if "pattern" in node and not re2.search(node["pattern"], value):
            return f"{value!r} does not match {node['pattern']!r}"
        if "maxLength" in node and len(value) > node["maxLength"]:
            return f"{value!r} is longer than {node['maxLength']}"
        if "minLength" in node and len(value) < node["minLength"]:
            return f"{value!r} is shorter than {node['minLength']}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            return f"{value!r} is below the minimum {node['minimum']}"
        if "maximum" in node and value > node["maximum"]:
            return f"{value!r} is above the maximum {node['maximum']}"
    if isinstance(value, dict):
        props = node.get("properties") or {}
        for req in node.get("required") or []:
            if req not in value:
                return f"required field {req!r} is missing"
        for key, sub in value.items():
            if key in props:
                problem = value_problem(props[key], sub, check_enum=True)
            elif isinstance(node.get("additionalProperties"), dict):
                problem = value_problem(node["additionalProperties"], sub, check_enum=True)
            elif node.get("x-kubernetes-preserve-unknown-fields") is True:
                problem = None
            else:
                problem = f"field {key!r} is not declared"
            if problem:
                return f"{key}: {problem}"
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        if "maxItems" in node and len(value) > node["maxItems"]:
            return f"more than {node['maxItems']} items"
        for i, item in enumerate(value):
            problem = value_problem(node["items"], item, check_enum=True)
            if problem:
                return f"[{i}]: {problem}"
    return None


def check_crd(crd: CRDFile) -> list[CRDError]:
    """Every structural problem of one CRD file."""
    return Checker(crd).check()


def iter_problems(paths: list[Path]) -> Iterator[CRDError]:
    for path in paths:
        try:
            crd = load_crd(path)
        except CRDError as exc:
            yield exc
            continue
        yield from check_crd(crd)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(CRD_DIR.glob("*.yaml"))
    problems = list(iter_problems(paths))
    for problem in problems:
        print(problem, file=sys.stderr)
    checked = ", ".join(display_path(p) for p in paths)
    print(f"{len(problems)} problem(s) in {len(paths)} file(s): {checked}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
