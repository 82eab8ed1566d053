"""HTTPProxy match conditions: validation and merging along include chains (Contour's conditions.go).

An include chain contributes conditions from every level. Path conditions are concatenated with runs
of `/` collapsed; the type of the last path condition decides prefix vs exact, and any regex makes the
whole match a regex. Header and query-parameter conditions are all kept. Validation reproduces
Contour's rules and messages, which are copied into status. Regular expressions are checked with RE2,
the engine Envoy uses (Python's `re` accepts patterns RE2 rejects, and the reverse).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import re2

from contour.api.projectcontour.v1 import HTTPProxyCondition
from contour.dag.goformat import go_quote_meta
from contour.dag.model import HeaderMatch, PathMatch, PathMatchKind, QueryParamMatch

# One DNS label in front of a `*.` host; Envoy's own wildcard would match several labels.
SINGLE_DNS_LABEL_WILDCARD_REGEX = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SLASHES = re.compile(r"//+")
_CONTRADICTION = "cannot specify contradictory '{}' and '{}' conditions for the same route and header"


def regex_error(pattern: str) -> str | None:
    """None when RE2 accepts `pattern`, else RE2's message."""
    try:
        re2.compile(pattern)
    except Exception as exc:  # re2 raises its own error type, with a bytes message
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        return str(detail)
    return None


def wildcard_authority_match(fqdn: str) -> HeaderMatch:
    """Contour's extra `:authority` match limiting `*.example.com` to one label (port ignored)."""
    return HeaderMatch(
        name=":authority",
        kind="regex",
        value=SINGLE_DNS_LABEL_WILDCARD_REGEX + go_quote_meta(fqdn[1:]) + "(:[0-9]+)?",
    )


def merge_path(conds: Sequence[HTTPProxyCondition]) -> PathMatch:
    merged = ""
    is_regex = False
    for cond in conds:
        if cond.prefix:
            merged += cond.prefix
        elif cond.exact:
            merged += cond.exact
        elif cond.regex:
            merged += cond.regex
            is_regex = True
    merged = _SLASHES.sub("/", merged)
    if not merged or not conds:
        return PathMatch(PathMatchKind.PREFIX, "/")
    last = conds[-1]
    if is_regex:
        return PathMatch(PathMatchKind.REGEX, merged)
    if last.exact:
        return PathMatch(PathMatchKind.EXACT, merged)
    return PathMatch(PathMatchKind.PREFIX, merged)


def merge_headers(conds: Sequence[HTTPProxyCondition]) -> tuple[HeaderMatch, ...]:
    out: list[HeaderMatch] = []
    for cond in conds:
        h = cond.header
        if h is None:
            continue
        ignore_case = bool(h.ignore_case)
        missing_empty = bool(h.treat_missing_as_empty)
        if h.present:
            out.append(HeaderMatch(h.name, "present"))
        elif h.notpresent:
            out.append(HeaderMatch(h.name, "present", invert=True))
        elif h.contains:
            out.append(HeaderMatch(h.name, "contains", h.contains, ignore_case=ignore_case))
        elif h.notcontains:
            out.append(
                HeaderMatch(
                    h.name,
                    "contains",
                    h.notcontains,
                    invert=True,
                    ignore_case=ignore_case,
                    treat_missing_as_empty=missing_empty,
                )
            )
        elif h.exact:
            out.append(HeaderMatch(h.name, "exact", h.exact, ignore_case=ignore_case))
        elif h.notexact:
            out.append(
                HeaderMatch(
                    h.name,
                    "exact",
                    h.notexact,
                    invert=True,
                    ignore_case=ignore_case,
                    treat_missing_as_empty=missing_empty,
                )
            )
        elif h.regex:
            out.append(HeaderMatch(h.name, "regex", h.regex))
    return tuple(out)


def merge_query_params(conds: Sequence[HTTPProxyCondition]) -> tuple[QueryParamMatch, ...]:
    out: list[QueryParamMatch] = []
    for cond in conds:
        q = cond.query_parameter
        if q is None:
            continue
        ignore_case = bool(q.ignore_case)
        if q.exact:
            out.append(QueryParamMatch(q.name, "exact", q.exact, ignore_case))
        elif q.prefix:
            out.append(QueryParamMatch(q.name, "prefix", q.prefix, ignore_case))
        elif q.suffix:
            out.append(QueryParamMatch(q.name, "suffix", q.suffix, ignore_case))
        elif q.regex:
            out.append(QueryParamMatch(q.name, "regex", q.regex))
        elif q.contains:
            out.append(QueryParamMatch(q.name, "contains", q.contains, ignore_case))
        elif q.present:
            out.append(QueryParamMatch(q.name, "present"))
    return tuple(out)


def path_conditions_error(conds: Sequence[HTTPProxyCondition]) -> str | None:
    """Contour's pathMatchConditionsValid: at most one of prefix/exact/regex, each starting with `/`."""
    count = 0
    for cond in conds:
        for kind, value in (("prefix", cond.prefix), ("exact", cond.exact), ("regex", cond.regex)):
            if not value:
                continue
            count += 1
            if value[0] != "/":
                return f"{kind} conditions must start with /, {value} was supplied"
            if kind == "regex" and (err := regex_error(value)):
                return f"supplied regex: {value} invalid. error: {err}"
    if count > 1:
        return "more than one prefix, exact or regex is not allowed in a condition block"
    return None


def include_conditions_error(conds: Sequence[HTTPProxyCondition]) -> str | None:
    for cond in conds:
        if cond.exact:
            return "exact conditions are not allowed in includes block"
        if cond.regex:
            return "regex conditions are not allowed in includes block"
    return None


def header_conditions_error(conds: Sequence[HTTPProxyCondition]) -> str | None:
    """Contour's headerMatchConditionsValid: no duplicate exact, no contradictions, RE2-valid regexes."""
    seen: set[tuple[object, ...]] = set()
    exact_names: set[str] = set()

    def key(name: str, **fields: object) -> tuple[object, ...]:
        base: dict[str, object] = {
            "present": False,
            "notpresent": False,
            "contains": "",
            "notcontains": "",
            "exact": "",
            "notexact": "",
            "regex": "",
            "ignore_case": False,
            "treat_missing_as_empty": False,
        }
        base.update(fields)
        return (name, *base.values())

    for cond in conds:
        h = cond.header
        if h is None:
            continue
        name = h.name.lower()
        if h.present:
            if key(name, notpresent=True) in seen:
                return _CONTRADICTION.format("present", "notpresent")
        elif h.notpresent:
            if key(name, present=True) in seen:
                return _CONTRADICTION.format("present", "notpresent")
        elif h.exact:
            if name in exact_names:
                return "cannot specify duplicate header 'exact match' conditions in the same route"
            exact_names.add(name)
            if key(name, notexact=h.exact) in seen:
                return _CONTRADICTION.format("exact", "notexact")
        elif h.notexact:
            if key(name, exact=h.notexact) in seen:
                return _CONTRADICTION.format("exact", "notexact")
        elif h.contains:
            if key(name, notcontains=h.contains) in seen:
                return _CONTRADICTION.format("contains", "notcontains")
        elif h.notcontains:
            if key(name, contains=h.notcontains) in seen:
                return _CONTRADICTION.format("contains", "notcontains")
        elif h.regex and regex_error(h.regex):
            return "invalid regular expression specified for 'regex' condition"
        seen.add(
            key(
                name,
                present=bool(h.present),
                notpresent=bool(h.notpresent),
                contains=h.contains or "",
                notcontains=h.notcontains or "",
                exact=h.exact or "",
                notexact=h.notexact or "",
                regex=h.regex or "",
                ignore_case=bool(h.ignore_case),
                treat_missing_as_empty=bool(h.treat_missing_as_empty),
            )
        )
    return None


def query_conditions_error(conds: Sequence[HTTPProxyCondition]) -> str | None:
    """Contour's queryParameterMatchConditionsValid."""
    exact_names: set[str] = set()
    for cond in conds:
        q = cond.query_parameter
        if q is None:
            continue
        matches = [q.exact, q.prefix, q.suffix, q.regex, q.contains, "true" if q.present else ""]
        set_count = sum(1 for m in matches if m)
        if set_count == 0:
            return "must specify at least one query parameter condition"
        if set_count > 1:
            return "cannot specify more than one condition in the same match condition branch"
        name = q.name.lower()
        if q.exact:
            if name in exact_names:
                return "cannot specify duplicate query parameter 'exact match' conditions in the same route"
            exact_names.add(name)
        if q.regex and regex_error(q.regex):
            return "invalid regular expression specified for 'regex' condition"
    return None


def include_conditions_key(conds: Sequence[HTTPProxyCondition]) -> tuple[object, ...] | None:
    """The identity Contour compares include conditions by (DuplicateMatchConditions).

    None for the conditions Contour never treats as duplicates: no conditions, or a lone `/` prefix.
    """
    path = merge_path(conds)
    headers = tuple(sorted(merge_headers(conds), key=_header_sort_key))
    queries = tuple(
        sorted(merge_query_params(conds), key=lambda q: (q.kind, not q.ignore_case, q.name, q.value))
    )
    if path.value == "/" and not headers and not queries:
        return None
    return (path.value, headers, queries)


def _header_sort_key(h: HeaderMatch) -> tuple[object, ...]:
    return (h.kind, not h.ignore_case, not h.invert, not h.treat_missing_as_empty, h.name, h.value)


def _query_sort_key(q: QueryParamMatch) -> tuple[object, ...]:
    return (q.kind, not q.ignore_case, q.name, q.value)
