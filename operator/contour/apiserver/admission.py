"""The one entry point the API server calls on every create, update and patch of an object.

`ObjectValidator.for_schema` is built once per served resource type version (when the server starts
or a CRD is registered): it compiles the schema and every CEL rule. `prepare` then does what the
real server does between decoding a body and storing it:

* custom resources: prune unknown fields (their paths are returned for `fieldValidation`), apply
  structural defaults, validate ObjectMeta (when the validator knows the scope), the OpenAPI schema,
  list-type uniqueness, then the CEL rules (with `oldSelf` on update). As in apiextensions-apiserver,
  CEL rules are not run when the schema already found a blocking error (required, enum, type,
  too long, too many); a cause saying so is added instead;
* built-in kinds: nothing is pruned or defaulted; unknown fields are reported and only value types
  are checked against the built-in schema (their other rules are Go code in the real server).

Top-level `metadata` is never pruned; its unknown keys (checked against ObjectMeta) are reported.
A cause's field is "<nil>" where the real server's path is empty (rules on the root, oneOf/anyOf).
"""

from __future__ import annotations

from typing import Any

from contour.apiserver import field_errors as fe
from contour.apiserver.cel import CompiledRules, UnsupportedRule
from contour.apiserver.defaulting import apply_defaults
from contour.apiserver.errors import Cause
from contour.apiserver.object_meta import DNS_SUBDOMAIN, NameRule, name_rule_for, validate_object_meta
from contour.apiserver.pruning import prune, unknown_fields
from contour.apiserver.schemas import Schema, builtin_components
from contour.apiserver.structural import Node, compile_schema
from contour.apiserver.validation import list_type_errors, schema_errors, type_errors

_BLOCKING = frozenset({fe.NOT_SUPPORTED, fe.REQUIRED, fe.TOO_LONG, fe.TOO_MANY, fe.TYPE_INVALID})
_NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _copy(value: Any) -> Any:
    """A deep copy of decoded JSON (much faster than copy.deepcopy)."""
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value


def _object_meta_node() -> Node:
    components = builtin_components()
    return compile_schema(Schema(components[_OBJECT_META], components))


class ObjectValidator:
    """Validation for one resource type version: its compiled schema and compiled CEL rules."""

    def __init__(
        self,
        node: Node,
        rules: CompiledRules,
        *,
        is_custom: bool,
        namespaced: bool | None = None,
        name_rule: NameRule = DNS_SUBDOMAIN,
    ) -> None:
        self.node = node
        self.rules = rules
        self.is_custom = is_custom
        self.namespaced = namespaced
        self.name_rule = name_rule
        self.unsupported_rules: list[UnsupportedRule] = rules.unsupported
        self._meta = _object_meta_node()

    @classmethod
    def for_schema(
        cls,
        schema: Schema,
        *,
        is_custom: bool,
        namespaced: bool | None = None,
        name_rule: NameRule | None = None,
        label: str = "",
    ) -> ObjectValidator:
        """`namespaced` given: `prepare` validates ObjectMeta too. `label` prefixes unsupported-rule paths.

        Without `name_rule`, a built-in kind gets its own (from the schema's group-version-kind: DNS label
        for Namespaces, DNS-1035 label for Services, path segment for RBAC) and anything else a DNS subdomain.
        """
        if name_rule is None:
            name_rule = DNS_SUBDOMAIN
            gvks = schema.get("x-kubernetes-group-version-kind")
            if not is_custom and isinstance(gvks, list) and gvks and isinstance(gvks[0], dict):
                name_rule = name_rule_for(str(gvks[0].get("group", "")), str(gvks[0].get("kind", "")))
        node = compile_schema(schema)
        rules = CompiledRules.compile(node, label=label) if is_custom else CompiledRules(None, [])
        return cls(node, rules, is_custom=is_custom, namespaced=namespaced, name_rule=name_rule)

    def prepare(
        self, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> tuple[dict[str, Any], list[Cause], list[str]]:
        """(object to store, causes for a 422, unknown-field paths). `obj` itself is not modified."""
        metadata = obj.get("metadata")
        unknown = (
            unknown_fields(metadata, self._meta, is_resource_root=False) if isinstance(metadata, dict) else []
        )
        unknown = [f"metadata.{path}" for path in unknown]
        causes: list[Cause] = []
        if self.namespaced is not None:
            causes.extend(validate_object_meta(obj, self.namespaced, name_rule=self.name_rule))
        if not self.is_custom:
            unknown = unknown_fields(obj, self.node) + unknown
            causes.extend(type_errors(obj, self.node))
            return obj, causes, unknown
        stored = _copy(obj)
        stored, dropped = prune(stored, self.node)
        apply_defaults(stored, self.node)
        schema_causes = schema_errors(stored, self.node)
        causes.extend(schema_causes)
        causes.extend(list_type_errors(stored, self.node))
        if not self.rules.empty:
            if any(cause.reason in _BLOCKING for cause in causes):
                causes.append(fe.invalid("<nil>", None, _NOT_CHECKED))
            else:
                causes.extend(self.rules.validate(stored, old))
        return stored, [_rooted(c) for c in causes], dropped + unknown


def _rooted(cause: Cause) -> Cause:
    return cause if cause.field else Cause(cause.reason, cause.message, "<nil>")
