"""docs/api-reference.md: every kind, version and field of crds/, as tables users can read.

Types carry the same names as the generated Python classes (codegen/models.py names them), and each
has an anchor so that a field's type links to its table. A field row shows its type, whether it is
required, its default, its enum / pattern / bounds / list semantics, and the messages of the CEL rules
on it; rules on an object are listed under its table.
"""

from __future__ import annotations

import json
from typing import Any

from codegen.crdfiles import CRDFile, display_path
from codegen.models import GroupVersion, build_defs, group_versions

TITLE = "API reference"


def anchor(group: str, version: str, name: str) -> str:
    return f"{group}-{version}-{name}".lower().replace(".", "-")


def cell(text: str) -> str:
    """Markdown table cells hold one line and no bare pipes."""
    return " ".join(text.split()).replace("|", "\\|")


def code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"`{text}`".replace("|", "\\|")


def type_of(converted: dict[str, Any], gv: GroupVersion) -> str:
    """The type as a reader wants it: `[]Route` linking to Route, `map[string]string`, `int-or-string`."""
    if "$ref" in converted:
        name = converted["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{anchor(gv.group, gv.version, name)})"
    if converted.get("customTypePath") == "contour.api.meta.ObjectMeta":
        return "[ObjectMeta](https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/)"
    if "customTypePath" in converted:
        return f"`{converted['customTypePath']}`"
    if "anyOf" in converted:
        branches = [b.get("type") for b in converted["anyOf"]]
        if branches[:2] == ["integer", "string"]:
            return "int-or-string"
        inner = type_of(converted["anyOf"][0], gv)
        return f"{inner} (nullable)"
    kind = converted.get("type")
    if kind == "array":
        return "[]" + type_of(converted["items"], gv)
    if kind == "object":
        additional = converted.get("additionalProperties")
        if isinstance(additional, dict):
            return "map[string]" + type_of(additional, gv)
        return "object (free-form)"
    return str(kind)


def constraints(raw: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "enum" in raw:
        out.append("one of " + ", ".join(code(v) for v in raw["enum"]))
    if "pattern" in raw:
        out.append("pattern " + code(raw["pattern"]))
    if "format" in raw:
        out.append("format " + code(raw["format"]))
    for key, label in (
        ("minimum", ">="),
        ("maximum", "<="),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("minProperties", "min entries"),
        ("maxProperties", "max entries"),
    ):
        if key in raw:
            exclusive = raw.get("exclusiveMinimum" if key == "minimum" else "exclusiveMaximum")
            strict = key in ("minimum", "maximum") and exclusive is True
            out.append(f"{label.rstrip('=') if strict else label} {raw[key]}")
    list_type = raw.get("x-kubernetes-list-type")
    if list_type == "map":
        keys = ", ".join(code(k) for k in raw.get("x-kubernetes-list-map-keys") or [])
        out.append(f"list map keyed by {keys}")
    elif list_type:
        out.append(f"list type {list_type}")
    if raw.get("x-kubernetes-map-type"):
        out.append(f"map type {raw['x-kubernetes-map-type']}")
    if raw.get("x-kubernetes-preserve-unknown-fields") is True:
        out.append("unknown fields preserved")
    for rule in raw.get("x-kubernetes-validations") or []:
        out.append("rule: " + (rule.get("message") or code(rule["rule"])))
    return out


def rules_of(raw: dict[str, Any]) -> list[str]:
    return [
        f"- {cell(rule.get('message') or 'rule')} (`{cell(rule['rule'])}`)"
        for rule in raw.get("x-kubernetes-validations") or []
    ]


def type_section(gv: GroupVersion, name: str, converted: dict[str, Any], raw: dict[str, Any]) -> list[str]:
    lines = [f'<a id="{anchor(gv.group, gv.version, name)}"></a>', "", f"#### {name}", ""]
    if raw.get("description"):
        lines += [cell(raw["description"]), ""]
    required = set(raw.get("required") or [])
    lines += ["| Field | Type | Required | Default | Validation | Description |", "|---|---|---|---|---|---|"]
    raw_props = raw.get("properties") or {}
    for prop, conv in converted["properties"].items():
        child = raw_props.get(prop, {})
        default = code(child["default"]) if "default" in child else ""
        lines.append(
            "| "
            + " | ".join(
                [
                    f"`{prop}`",
                    type_of(conv, gv),
                    "yes" if prop in required else "",
                    default,
                    "; ".join(constraints(child)),
                    cell(conv.get("description", "")),
                ]
            )
            + " |"
        )
    rules = rules_of(raw)
    if rules:
        lines += ["", "Rules on the whole object:", "", *rules]
    lines.append("")
    return lines


def count_fields(node: Any) -> int:
    """Every property declared anywhere in a schema, nested ones included."""
    if not isinstance(node, dict):
        return 0
    props = node.get("properties") or {}
    total = len(props) + sum(count_fields(child) for child in props.values())
    for key in ("items", "additionalProperties"):
        total += count_fields(node.get(key))
    return total


def kind_summary(crd: CRDFile) -> list[str]:
    spec = crd.doc["spec"]
    names = spec["names"]
    versions = []
    for version in crd.versions():
        flags = ["served" if version.get("served") else "not served"]
        if version.get("storage"):
            flags.append("storage")
        if version.get("deprecated"):
            flags.append("deprecated")
        fields = count_fields(version["schema"]["openAPIV3Schema"])
        versions.append(f"{version['name']} ({', '.join(flags)}; {fields} fields)")
    rows = [
        f"- Group: `{crd.group}`; scope: {spec['scope']}; plural: `{names['plural']}`",
        f"- Versions: {', '.join(versions)}",
    ]
    if names.get("shortNames"):
        rows.append("- Short names: " + ", ".join(f"`{n}`" for n in names["shortNames"]))
    if names.get("categories"):
        rows.append("- Categories: " + ", ".join(f"`{c}`" for c in names["categories"]))
    rows.append(f"- Schema source: `{display_path(crd.path)}`")
    return rows


def render(crds: list[CRDFile]) -> str:
    gvs = group_versions(crds)
    lines = [
        f"# {TITLE}",
        "",
        "Generated by `python -m codegen` from the CRD schemas in `crds/`. Do not edit: change the",
        "schema and run `make codegen`. Type names match the generated Python classes in",
        "`operator/contour/api/<group>/<version>.py`.",
        "",
        "## Contents",
        "",
    ]
    for gv in gvs:
        kinds = ", ".join(f"[{crd.kind}](#{anchor(gv.group, gv.version, crd.kind)})" for crd in gv.crds)
        lines.append(f"- `{gv.group}/{gv.version}`: {kinds}")
    lines.append("")
    for gv in gvs:
        builder = build_defs(gv)
        lines += [f"## {gv.group}/{gv.version}", ""]
        for crd in gv.crds:
            lines += [f"### {crd.kind}", "", *kind_summary(crd), ""]
        lines += ["### Types", ""]
        for name, converted in builder.defs.items():
            lines += type_section(gv, name, converted, builder.raw[name])
    return "\n".join(lines).rstrip("\n") + "\n"
