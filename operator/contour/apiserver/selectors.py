"""Label and field selectors, parsed as the real API server parses `labelSelector`/`fieldSelector`.

Label selectors support every operator (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`); field selectors
support `metadata.name` and `metadata.namespace` on every kind (plus a few per-kind fields the real
server also allows), with `=`, `==` and `!=`. Anything else is a 400 with the real server's message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contour.apiserver.errors import APIError, bad_request

_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        # "!=" and "notin" match objects without the label too
        return not present or labels[self.key] not in self.values


Selector = Callable[[Mapping[str, Any]], bool]


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _check_key(key: str, selector: str) -> None:
    if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise bad_request(f'unable to parse requirement: invalid label key "{key}" in selector "{selector}"')


def _check_value(value: str, selector: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise bad_request(
            f'unable to parse requirement: invalid label value: "{value}" in selector "{selector}"'
        )


def parse_label_selector(text: str) -> list[Requirement]:
    requirements: list[Requirement] = []
    if not text.strip():
        return requirements
    for part in _split_top_level(text):
        match = re.fullmatch(r"(\S+)\s+(in|notin)\s*\((.*)\)", part)
        if match:
            key, op, raw = match.groups()
            values = tuple(v.strip() for v in raw.split(",") if v.strip())
            _check_key(key, text)
            for value in values:
                _check_value(value, text)
            requirements.append(Requirement(key, op, values))
            continue
        match = re.fullmatch(r"([^=!\s]+)\s*(==|=|!=)\s*(\S*)", part)
        if match:
            key, op, value = match.groups()
            _check_key(key, text)
            _check_value(value, text)
            requirements.append(Requirement(key, "=" if op == "==" else op, (value,)))
            continue
        if part.startswith("!"):
            _check_key(part[1:].strip(), text)
            requirements.append(Requirement(part[1:].strip(), "!"))
            continue
        if part and " " not in part:
            _check_key(part, text)
            requirements.append(Requirement(part, "exists"))
            continue
        raise bad_request(
            f"unable to parse requirement: found '{part}', expected: identifier in selector \"{text}\""
        )
    return requirements


# Fields the real server lets you select on besides metadata.name and metadata.namespace.
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "Secret": ("type",),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "Namespace": ("status.phase",),
    "Pod": ("spec.nodeName", "status.phase", "spec.serviceAccountName"),
}


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None:
        return ""
    return str(node).lower() if isinstance(node, bool) else str(node)


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    op: str  # "=" or "!="
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        equal = _field_value(obj, self.path) == self.value
        return equal if self.op == "=" else not equal


def parse_field_selector(text: str, kind: str, extra_fields: tuple[str, ...] = ()) -> list[FieldRequirement]:
    requirements: list[FieldRequirement] = []
    if not text.strip():
        return requirements
    allowed = {"metadata.name", "metadata.namespace", *EXTRA_FIELDS.get(kind, ()), *extra_fields}
    for part in text.split(","):
        match = re.fullmatch(r"\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*", part)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        path, op, value = match.groups()
        path = path.lstrip(".")
        if path not in allowed:
            raise APIError(400, "BadRequest", f"field label not supported: {path}")
        requirements.append(FieldRequirement(path, "=" if op == "==" else op, value))
    return requirements


def compile_selectors(
    label_selector: str, field_selector: str, kind: str, extra_fields: tuple[str, ...] = ()
) -> Selector | None:
    """A predicate on whole objects, or None when neither selector restricts anything."""
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector, kind, extra_fields)
    if not labels and not fields:
        return None

    def matches(obj: Mapping[str, Any]) -> bool:
        obj_labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(obj_labels) for r in labels) and all(f.matches(obj) for f in fields)

    return matches
