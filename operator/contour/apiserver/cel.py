"""CRD validation rules (`x-kubernetes-validations`), compiled once per schema and run on every write.

`CompiledRules.compile(node)` walks a compiled schema, compiles every rule with the `cel` package
(cel-rust) and keeps a tree shaped like the schema but holding only the branches that lead to rules.
A rule that does not parse, or calls a function neither cel-rust nor `cel_library` provides, is not
run: it is listed in `unsupported` (a startup log line, and a test that keeps crds/ free of them).

Evaluation follows apiextensions-apiserver's schema/cel/validation.go:
* `self` is the value at the rule's node, converted as Kubernetes does: property names escaped for
  CEL (`namespace` -> `__namespace__`, `a-b` -> `a__dash__b`, names that cannot be escaped are
  hidden), integers given to `type: number` become doubles, absent fields stay absent;
* a rule that uses `oldSelf` is a transition rule, run only on update when the old value exists
  (properties and map values correlate by key, list items only in `x-kubernetes-list-type: map`
  lists, by their keys), unless `optionalOldSelf` makes `oldSelf` an optional value;
* a rule failing gives `message`, the evaluated `messageExpression`, or `failed rule: <rule>`, at the
  node's path (or its `fieldPath`), with `reason` (FieldValueInvalid by default); an object or array
  value is not shown (Kubernetes 1.35+), a scalar is;
* an evaluation error (no such key, index out of bounds, overflow, no such overload...) is a cause,
  never an exception.

Known differences from cel-go: cel-rust's `size()` counts a string's bytes, not its code points, and
there is no static type checking, so type mistakes surface at evaluation time as "no such overload".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contour.apiserver import field_errors as fe
from contour.apiserver.cel_engine import engine as cel
from contour.apiserver.cel_library import FUNCTIONS, NATIVE_FUNCTIONS
from contour.apiserver.errors import Cause
from contour.apiserver.structural import Node

_RESERVED = frozenset(
    {
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    }
)
_EXPAND = re.compile(r"__|[-./]|[^a-zA-Z0-9\-./_]")
_ESCAPES = {"__": "__underscores__", ".": "__dot__", "-": "__dash__", "/": "__slash__"}
_MAX_MESSAGE_BYTES = 5 * 1024
_REASONS = {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}


def escape(name: str) -> str | None:
    """Kubernetes' CEL property-name escaping; None when the name cannot be used from CEL."""
    if not name or name[0].isdigit():
        return None
    if name in _RESERVED:
        return f"__{name}__"
    bad = False

    def expand(match: re.Match[str]) -> str:
        nonlocal bad
        text = match.group(0)
        if text in _ESCAPES:
            return _ESCAPES[text]
        bad = True
        return ""

    escaped = _EXPAND.sub(expand, name)
    return None if bad else escaped


@dataclass(frozen=True)
class UnsupportedRule:
    """A rule that is not enforced here, and why; `path` is the schema node (`spec.hostnames`)."""

    path: str
    rule: str
    reason: str


@dataclass
class _Rule:
    source: str
    program: Any
    message: str
    message_program: Any
    reason: str
    field_path: str
    uses_old_self: bool
    optional_old_self: bool
    # The library functions the rule and its messageExpression call (passed with each evaluation:
    # cel-rust wraps every function it is given, so passing all of them costs microseconds each).
    functions: dict[str, Any] = field(default_factory=dict)


@dataclass
class _RuleNode:
    """The part of the schema that leads to rules; `node` is the schema node it mirrors."""

    node: Node
    rules: list[_Rule] = field(default_factory=list)
    properties: dict[str, _RuleNode] = field(default_factory=dict)
    items: _RuleNode | None = None
    additional: _RuleNode | None = None
    all_of: list[_RuleNode] = field(default_factory=list)
    # What the node's rules need bound: the library functions they call, and whether any reads oldSelf.
    functions: dict[str, Any] = field(default_factory=dict)
    uses_old_self: bool = False


# --- compilation ---------------------------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _normalize_field_path(raw: str) -> str | None:
    """A rule's fieldPath (`.spec.foo`, `.map['key']`) as a field path suffix, or None if malformed."""
    out = ""
    pos = 0
    token = re.compile(r"\.([^.\[\]]+)|\['((?:[^'\\]|\\.)*)'\]")
    while pos < len(raw):
        match = token.match(raw, pos)
        if match is None:
            return None
        if match.group(1) is not None:
            out = _join(out, match.group(1))
        else:
            out += f"[{match.group(2)}]"
        pos = match.end()
    return out


class _Compiler:
    def __init__(self, label: str) -> None:
        self.label = label
        self.unsupported: list[UnsupportedRule] = []
        self.seen: dict[int, _RuleNode | None] = {}

    def where(self, path: str) -> str:
        here = path or "<root>"
        return f"{self.label}: {here}" if self.label else here

    def compile_rule(self, raw: Mapping[str, Any], path: str) -> _Rule | None:
        source = str(raw.get("rule", "")).strip()
        if not source:
            return None
        try:
            program = cel.compile(source)
        except (ValueError, RuntimeError) as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.unsupported.append(UnsupportedRule(self.where(path), source, f"does not parse: {first}"))
            return None
        missing = self.missing_functions(program)
        if missing:
            why = "uses functions not provided: " + ", ".join(missing)
            self.unsupported.append(UnsupportedRule(self.where(path), source, why))
            return None
        message_program = None
        expression = raw.get("messageExpression")
        if isinstance(expression, str) and expression.strip():
            try:
                message_program = cel.compile(expression)
            except (ValueError, RuntimeError):
                message_program = None
            if message_program is not None and self.missing_functions(message_program):
                message_program = None
        reason: Any = raw.get("reason")
        field_path = ""
        raw_path = raw.get("fieldPath")
        if isinstance(raw_path, str) and raw_path:
            field_path = _normalize_field_path(raw_path) or ""
        variables = set(program.variables())
        message = raw.get("message")
        called = set(program.functions())
        if message_program is not None:
            called |= set(message_program.functions())
        return _Rule(
            source=source,
            program=program,
            message=message.strip() if isinstance(message, str) else "",
            message_program=message_program,
            reason=reason if isinstance(reason, str) and reason in _REASONS else "FieldValueInvalid",
            field_path=field_path,
            uses_old_self="oldSelf" in variables,
            optional_old_self=raw.get("optionalOldSelf") is True,
            functions={name: FUNCTIONS[name] for name in sorted(called) if name in FUNCTIONS},
        )

    @staticmethod
    def missing_functions(program: Any) -> list[str]:
        names = []
        for name in program.functions():
            if name[:1] in ("_", "!", "-", "@") or name in NATIVE_FUNCTIONS or name in FUNCTIONS:
                continue
            names.append(name)
        return sorted(names)

    def build(self, node: Node, path: str) -> _RuleNode | None:
        key = id(node)
        if key in self.seen:  # recursive (built-in) schemas: rules are never recursive in CRDs
            return self.seen[key]
        self.seen[key] = None
        out = _RuleNode(node)
        for raw in node.rules:
            rule = self.compile_rule(raw, path)
            if rule is not None:
                out.rules.append(rule)
                out.functions.update(rule.functions)
                out.uses_old_self = out.uses_old_self or rule.uses_old_self
        for name, prop in node.properties.items():
            child = self.build(prop, _join(path, name))
            if child is not None:
                out.properties[name] = child
        if node.items is not None:
            out.items = self.build(node.items, f"{path}[*]" if path else "[*]")
        if node.additional is not None:
            out.additional = self.build(node.additional, f"{path}[*]" if path else "[*]")
        for part in node.all_of:
            child = self.build(part, path)
            if child is not None:
                out.all_of.append(child)
        del self.seen[key]
        if out.rules or out.properties or out.items or out.additional or out.all_of:
            return out
        return None


# --- values --------------------------------------------------------------------------------------------


def to_cel(value: Any, node: Node | None) -> Any:
    """The value Kubernetes hands to CEL for `value` at schema `node`."""
    if node is None:
        return value
    if isinstance(value, dict):
        if node.properties:
            out: dict[str, Any] = {}
            for key, item in value.items():
                prop = node.properties.get(key)
                name = escape(key)
                if name is None:
                    continue
                out[name] = to_cel(item, prop if prop is not None else node.additional)
            return out
        if node.additional is not None:
            return {key: to_cel(item, node.additional) for key, item in value.items()}
        return value
    if isinstance(value, list):
        items = node.items
        if items is None or _plain(items):
            return value
        return [to_cel(item, items) for item in value]
    if node.type == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _plain(node: Node) -> bool:
    """Scalars whose Python value is already the CEL value."""
    return node.type in ("string", "boolean", "integer") and not node.properties


# --- evaluation ----------------------------------------------------------------------------------------


def _error_text(error: BaseException) -> str:
    """cel-go's wording for the runtime errors cel-rust raises."""
    if isinstance(error, KeyError):
        return f"no such key: {error.args[0] if error.args else ''}"
    if isinstance(error, ZeroDivisionError):
        return "division by zero"
    if isinstance(error, OverflowError):
        return "integer overflow"
    text = str(error)
    if isinstance(error, TypeError) and ("No such overload" in text or "no such overload" in text):
        return "no such overload"
    if "no such overload" in text:
        return "no such overload"
    return text.splitlines()[0] if text else type(error).__name__


def _evaluation_detail(rule: _Rule, error: BaseException) -> str:
    text = _error_text(error)
    name = rule.message or rule.source
    if text == "no such overload":
        return (
            f"'{text}': call arguments did not match a supported operator, function or macro "
            f"signature for rule: {name}"
        )
    return f"{text} evaluating rule: {name}"


def _cause(reason: str, path: str, value: Any, detail: str) -> Cause:
    if reason == "FieldValueForbidden":
        return fe.forbidden(path, detail)
    if reason == "FieldValueRequired":
        return fe.required(path, detail)
    if reason == "FieldValueDuplicate":
        return fe.duplicate(path, value)
    return fe.invalid(path, value, detail)


_ABSENT = object()


class _Evaluation:
    __slots__ = ("causes",)

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def run(self, tree: _RuleNode, value: Any, old: Any, path: str) -> None:
        if value is None:
            return
        if tree.rules:
            self.rules(tree, value, old, path)
        for part in tree.all_of:
            self.run(part, value, old, path)
        if isinstance(value, dict):
            old_map = old if isinstance(old, dict) else None
            if tree.additional is not None:
                correlate = old_map is not None
                for key, item in value.items():
                    if key in tree.node.properties:
                        continue
                    before = old_map.get(key, _ABSENT) if correlate and old_map is not None else _ABSENT
                    self.run(tree.additional, item, before, f"{path}[{key}]" if path else f"[{key}]")
            for key, sub in tree.properties.items():
                if key in value:
                    before = old_map.get(key, _ABSENT) if old_map is not None else _ABSENT
                    self.run(sub, value[key], before, _join(path, key))
        elif isinstance(value, list) and tree.items is not None:
            matcher = _ListMatcher(tree.node, old)
            for index, item in enumerate(value):
                self.run(tree.items, item, matcher.old_for(item), f"{path}[{index}]")

    def rules(self, tree: _RuleNode, value: Any, old: Any, path: str) -> None:
        """Run the rules of one node: `self` is converted once, into one context shared by its rules."""
        node = tree.node
        here = path or "<nil>"
        has_old = old is not _ABSENT and old is not None
        variables: dict[str, Any] = {"self": to_cel(value, node)}
        if has_old and tree.uses_old_self:
            variables["oldSelf"] = to_cel(old, node)
        context = cel.Context(variables=variables, functions=tree.functions)
        optional: Any = None
        for rule in tree.rules:
            run_in = context
            if rule.uses_old_self and rule.optional_old_self:
                if optional is None:
                    wrapped = (
                        cel.OptionalValue.of(variables["oldSelf"]) if has_old else cel.OptionalValue.none()
                    )
                    optional = cel.Context(
                        variables={"self": variables["self"], "oldSelf": wrapped}, functions=tree.functions
                    )
                run_in = optional
            elif rule.uses_old_self and not has_old:
                continue  # a transition rule needs a value to compare with
            try:
                result = rule.program.execute(run_in)
            except Exception as error:  # cel-rust raises many exception types; each becomes a cause
                self.causes.append(fe.invalid(here, node.type or "", _evaluation_detail(rule, error)))
                continue
            if result is True:
                continue
            target = path
            if rule.field_path:
                suffix = rule.field_path
                target = path + suffix if suffix.startswith("[") else _join(path, suffix)
            detail = self.message(rule, context) or rule.message or f"failed rule: {rule.source}"
            shown = fe.OMIT if isinstance(value, dict | list) else value
            self.causes.append(_cause(rule.reason, target or "<nil>", shown, detail))

    @staticmethod
    def message(rule: _Rule, context: Any) -> str:
        if rule.message_program is None:
            return ""
        try:
            text = rule.message_program.execute(context)
        except Exception:
            return ""
        if not isinstance(text, str):
            return ""
        text = text.strip()
        if not text or "\n" in text or len(text.encode()) > _MAX_MESSAGE_BYTES:
            return ""
        return text


class _ListMatcher:
    """Finds an item's old value: only `x-kubernetes-list-type: map` lists correlate, by their keys."""

    __slots__ = ("by_key", "keys")

    def __init__(self, node: Node, old: Any) -> None:
        self.keys = node.list_map_keys if node.list_type == "map" else ()
        self.by_key: dict[tuple[Any, ...], Any] = {}
        if self.keys and isinstance(old, list):
            for item in old:
                if isinstance(item, dict):
                    self.by_key.setdefault(self.key(item), item)

    def key(self, item: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(repr(item.get(k)) for k in self.keys)

    def old_for(self, item: Any) -> Any:
        if not self.by_key or not isinstance(item, dict):
            return _ABSENT
        return self.by_key.get(self.key(item), _ABSENT)


@dataclass
class CompiledRules:
    """Every validation rule of one schema, compiled; `unsupported` lists the rules not enforced."""

    root: _RuleNode | None
    unsupported: list[UnsupportedRule]

    @classmethod
    def compile(cls, node: Node, *, label: str = "") -> CompiledRules:
        compiler = _Compiler(label)
        root = compiler.build(node, "")
        return cls(root, compiler.unsupported)

    @property
    def empty(self) -> bool:
        return self.root is None

    def validate(self, obj: Any, old: Any = None, path: str = "") -> list[Cause]:
        """The causes of every failing rule for `obj` (`old` is the stored object on update)."""
        if self.root is None:
            return []
        evaluation = _Evaluation()
        evaluation.run(self.root, obj, _ABSENT if old is None else old, path)
        return evaluation.causes
