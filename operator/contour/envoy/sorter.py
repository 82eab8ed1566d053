"""Route order within a virtual host, as Contour's `internal/sorter` decides it.

Envoy takes the first route that matches, so the order is behaviour. Contour's rules:

* exact paths before regexes before prefixes;
* among prefixes (and among regexes) the longer one first, and at equal length the lexicographically
  greater one; equal prefixes: a path-segment prefix before a string prefix;
* equal paths: a route matching `:method` first, then more header matches, then more query matches,
  then the lower `priority`, then header by header and query by query (exact < regex < contains <
  present for headers; exact < regex < prefix < suffix < contains < present for queries).

Routes are first put in a canonical order (their match key) so the result never depends on the order
the DAG produced them in; the sort itself is stable.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from contour.dag.model import HeaderMatch, PathMatchKind, QueryParamMatch, Route, route_key

_HEADER_RANK = {"exact": 0, "regex": 1, "contains": 2, "present": 3}
_QUERY_RANK = {"exact": 0, "regex": 1, "prefix": 2, "suffix": 3, "contains": 4, "present": 5}
_PREFIXES = (PathMatchKind.PREFIX, PathMatchKind.SEGMENT_PREFIX)


def _value_first(a_value: str, b_value: str, a_later: bool, b_later: bool) -> bool:
    if a_value != b_value:
        return a_value < b_value
    return a_later != b_later and not a_later


def _header_first(a: HeaderMatch, b: HeaderMatch) -> bool:
    if a.name != b.name:
        return a.name < b.name
    a_rank, b_rank = _HEADER_RANK.get(a.kind, 9), _HEADER_RANK.get(b.kind, 9)
    if a_rank != b_rank:
        return a_rank < b_rank
    if a.kind == "present":
        return a.invert != b.invert and not a.invert
    return _value_first(a.value, b.value, a.invert, b.invert)


def _query_first(a: QueryParamMatch, b: QueryParamMatch) -> bool:
    if a.name != b.name:
        return a.name < b.name
    a_rank, b_rank = _QUERY_RANK.get(a.kind, 9), _QUERY_RANK.get(b.kind, 9)
    if a_rank != b_rank:
        return a_rank < b_rank
    if a.kind == "present":
        return False
    return _value_first(a.value, b.value, a.ignore_case, b.ignore_case)


def _conditions_first(a: Route, b: Route) -> bool:
    a_method = any(h.name == ":method" for h in a.header_matches)
    b_method = any(h.name == ":method" for h in b.header_matches)
    if a_method != b_method:
        return a_method
    a_headers = [h for h in a.header_matches if h.name != ":method"]
    b_headers = [h for h in b.header_matches if h.name != ":method"]
    if len(a_headers) != len(b_headers):
        return len(a_headers) > len(b_headers)
    if len(a.query_param_matches) != len(b.query_param_matches):
        return len(a.query_param_matches) > len(b.query_param_matches)
    if a.priority != b.priority:
        return a.priority < b.priority
    if any(_header_first(x, y) for x, y in zip(a_headers, b_headers, strict=True)):
        return True
    return any(_query_first(x, y) for x, y in zip(a.query_param_matches, b.query_param_matches, strict=True))


def _longer_first(a: str, b: str) -> bool | None:
    """True/False when the values decide, None when they are equal."""
    if len(a) != len(b):
        return len(a) > len(b)
    if a != b:
        return a > b
    return None


def route_first(a: Route, b: Route) -> bool:
    """Whether `a` must be tried before `b` (Contour's routeSorter.Less)."""
    a_kind, b_kind = a.path_match.kind, b.path_match.kind
    if a_kind in _PREFIXES:
        if b_kind not in _PREFIXES:
            return False
        decided = _longer_first(a.path_match.value, b.path_match.value)
        if decided is not None:
            return decided
        if a_kind == b_kind:
            return _conditions_first(a, b)
        return a_kind == PathMatchKind.SEGMENT_PREFIX
    if a_kind == PathMatchKind.REGEX:
        if b_kind in _PREFIXES:
            return True
        if b_kind != PathMatchKind.REGEX:
            return False
        decided = _longer_first(a.path_match.value, b.path_match.value)
        return _conditions_first(a, b) if decided is None else decided
    if b_kind != PathMatchKind.EXACT:
        return True
    if a.path_match.value != b.path_match.value:
        return a.path_match.value > b.path_match.value
    return _conditions_first(a, b)


def _compare(a: Route, b: Route) -> int:
    if route_first(a, b):
        return -1
    if route_first(b, a):
        return 1
    return 0


def sort_routes(routes: Iterable[Route]) -> list[Route]:
    """`routes` in the order Envoy must try them."""
    canonical = sorted(routes, key=route_key)
    return sorted(canonical, key=functools.cmp_to_key(_compare))
