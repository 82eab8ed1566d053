"""ObjectMeta validation as k8s.io/apimachinery/pkg/api/validation does it, with its exact messages.

Names follow a rule chosen per kind (`NAME_RULES`): most kinds, and every custom resource, need a
DNS-1123 subdomain; Namespaces a DNS-1123 label; Services a DNS-1035 label; RBAC kinds a path
segment (no `/`, no `%`, not `.` or `..`). A CustomResourceDefinition's name must also be
`<plural>.<group>` (`crd_name_causes`). Label keys and annotation keys are qualified names, label
values at most 63 characters, and annotations at most 256 KiB in total (keys plus values, bytes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from contour.apiserver import field_errors as fe
from contour.apiserver.errors import Cause

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED_NAME + ")?"

_LABEL_RE = re.compile(_DNS1123_LABEL)
_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN)
_DNS1035_RE = re.compile(_DNS1035_LABEL)
_QUALIFIED_RE = re.compile(_QUALIFIED_NAME)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE)

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def _regex_error(message: str, pattern: str, *examples: str) -> str:
    """validation.RegexError, including Go's double space before each ` or `."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    listed = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {listed}regex used for validation is '{pattern}')"


def _max_len(length: int) -> str:
    return f"must be no more than {length} characters"


def _full(pattern: re.Pattern[str], value: str) -> bool:
    return pattern.fullmatch(value) is not None and "\n" not in value


def is_dns1123_label(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len(63))
    if not _full(_LABEL_RE, value):
        if _full(_SUBDOMAIN_RE, value):
            errors.append("must not contain dots")
        else:
            errors.append(
                _regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                    "and must start and end with an alphanumeric character",
                    _DNS1123_LABEL,
                    "my-name",
                    "123-abc",
                )
            )
    return errors


def is_dns1123_subdomain(value: str) -> list[str]:
    errors = []
    if len(value) > 253:
        errors.append(_max_len(253))
    if not _full(_SUBDOMAIN_RE, value):
        errors.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                "'.', and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN,
                "example.com",
            )
        )
    return errors


def is_dns1035_label(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len(63))
    if not _full(_DNS1035_RE, value):
        errors.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL,
                "my-name",
                "abc-123",
            )
        )
    return errors


def is_path_segment(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in value]


def is_qualified_name(value: str) -> list[str]:
    errors: list[str] = []
    parts = value.split("/")
    name_error = _regex_error(
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character",
        _QUALIFIED_NAME,
        "MyName",
        "my.name",
        "123-abc",
    )
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + name_error
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_len(63))
    if not _full(_QUALIFIED_RE, name):
        errors.append("name part " + name_error)
    return errors


def is_valid_label_value(value: str) -> list[str]:
    errors = []
    if len(value) > 63:
        errors.append(_max_len(63))
    if not _full(_LABEL_VALUE_RE, value):
        errors.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                "or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errors


def _as_prefix(check: Callable[[str], list[str]]) -> Callable[[str, bool], list[str]]:
    """A name rule; for generateName prefixes a trailing dash is allowed (Go's maskTrailingDash)."""

    def rule(name: str, prefix: bool) -> list[str]:
        if prefix and len(name) > 1 and name.endswith("-"):
            name = name[:-1] + "a"
        return check(name)

    return rule


NameRule = Callable[[str, bool], list[str]]
DNS_SUBDOMAIN: NameRule = _as_prefix(is_dns1123_subdomain)
DNS_LABEL: NameRule = _as_prefix(is_dns1123_label)
DNS1035_LABEL: NameRule = _as_prefix(is_dns1035_label)
PATH_SEGMENT: NameRule = lambda name, _prefix: is_path_segment(name)  # noqa: E731

# Name rule of each built-in kind served here; anything else (custom resources) uses DNS_SUBDOMAIN.
NAME_RULES: dict[tuple[str, str], NameRule] = {
    ("", "Namespace"): DNS_LABEL,
    ("", "Service"): DNS1035_LABEL,
    ("rbac.authorization.k8s.io", "Role"): PATH_SEGMENT,
    ("rbac.authorization.k8s.io", "RoleBinding"): PATH_SEGMENT,
    ("rbac.authorization.k8s.io", "ClusterRole"): PATH_SEGMENT,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): PATH_SEGMENT,
}


def name_rule_for(group: str, kind: str) -> NameRule:
    return NAME_RULES.get((group, kind), DNS_SUBDOMAIN)


def _string_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def validate_labels(labels: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for key, value in labels.items():
        causes.extend(fe.invalid(path, key, msg) for msg in is_qualified_name(key))
        if isinstance(value, str):
            causes.extend(fe.invalid(path, value, msg) for msg in is_valid_label_value(value))
    return causes


def validate_annotations(annotations: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    total = 0
    for key, value in annotations.items():
        causes.extend(fe.invalid(path, key, msg) for msg in is_qualified_name(key.lower()))
        total += len(key.encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(fe.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def validate_object_meta(
    obj: Mapping[str, Any],
    namespaced: bool,
    *,
    name_rule: NameRule = DNS_SUBDOMAIN,
    path: str = "metadata",
) -> list[Cause]:
    """ValidateObjectMetaAccessor on create (name generation already done by the caller)."""
    meta = _string_map(obj.get("metadata"))
    causes: list[Cause] = []
    generate_name = meta.get("generateName")
    if isinstance(generate_name, str) and generate_name:
        causes.extend(
            fe.invalid(f"{path}.generateName", generate_name, msg) for msg in name_rule(generate_name, True)
        )
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        causes.append(fe.required(f"{path}.name", "name or generateName is required"))
    else:
        causes.extend(fe.invalid(f"{path}.name", name, msg) for msg in name_rule(name, False))
    namespace = meta.get("namespace")
    if namespaced:
        if not isinstance(namespace, str) or not namespace:
            causes.append(fe.required(f"{path}.namespace"))
        else:
            causes.extend(
                fe.invalid(f"{path}.namespace", namespace, msg) for msg in is_dns1123_label(namespace)
            )
    elif namespace:
        causes.append(fe.forbidden(f"{path}.namespace", "not allowed on this type"))
    generation = meta.get("generation")
    if isinstance(generation, int) and not isinstance(generation, bool) and generation < 0:
        causes.append(fe.invalid(f"{path}.generation", generation, "must be greater than or equal to 0"))
    causes.extend(validate_labels(_string_map(meta.get("labels")), f"{path}.labels"))
    causes.extend(validate_annotations(_string_map(meta.get("annotations")), f"{path}.annotations"))
    finalizers = meta.get("finalizers")
    if isinstance(finalizers, list):
        for finalizer in finalizers:
            if isinstance(finalizer, str):
                causes.extend(
                    fe.invalid(f"{path}.finalizers", finalizer, msg) for msg in is_qualified_name(finalizer)
                )
    return causes


_IMMUTABLE = (
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def validate_object_meta_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """ValidateObjectMetaAccessorUpdate's immutability checks, then labels and annotations."""
    new_meta = _string_map(new.get("metadata"))
    old_meta = _string_map(old.get("metadata"))
    causes: list[Cause] = []
    if not new_meta.get("resourceVersion"):
        causes.append(fe.invalid("metadata.resourceVersion", "", "must be specified for an update"))
    for field in _IMMUTABLE:
        if new_meta.get(field) != old_meta.get(field):
            value = new_meta.get(field)
            causes.append(
                fe.invalid(f"metadata.{field}", "" if value is None else value, "field is immutable")
            )
    causes.extend(validate_labels(_string_map(new_meta.get("labels")), "metadata.labels"))
    causes.extend(validate_annotations(_string_map(new_meta.get("annotations")), "metadata.annotations"))
    return causes


def crd_name_causes(crd: Mapping[str, Any]) -> list[Cause]:
    """A CustomResourceDefinition must be named `<spec.names.plural>.<spec.group>`."""
    spec = _string_map(crd.get("spec"))
    names = _string_map(spec.get("names"))
    name = _string_map(crd.get("metadata")).get("name", "")
    expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
    if name != expected:
        return [fe.invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group')]
    return []
