"""Route order, case by case from Contour's sorter tests: the first listed must be tried first."""

from __future__ import annotations

import itertools

import pytest

from contour.dag.model import HeaderMatch, PathMatch, PathMatchKind, QueryParamMatch, Route
from contour.envoy.sorter import sort_routes


def r(
    kind: PathMatchKind,
    value: str,
    *headers: HeaderMatch,
    queries: tuple[QueryParamMatch, ...] = (),
    priority: int = 0,
) -> Route:
    return Route(
        path_match=PathMatch(kind, value),
        header_matches=headers,
        query_param_matches=queries,
        priority=priority,
    )


P, S, E, X = PathMatchKind.PREFIX, PathMatchKind.SEGMENT_PREFIX, PathMatchKind.EXACT, PathMatchKind.REGEX

CASES = {
    "exact-before-regex-before-prefix": [r(E, "/a"), r(X, "/a.*"), r(P, "/aaaaaaaa")],
    "longer-prefix-first": [r(P, "/abc/def"), r(P, "/abc"), r(P, "/")],
    "equal-length-greater-first": [r(P, "/b"), r(P, "/a")],
    "longer-regex-first": [r(X, "/foo/.*"), r(X, "/.*")],
    "segment-before-string-prefix": [r(S, "/api"), r(P, "/api")],
    "method-match-first": [
        r(P, "/", HeaderMatch(":method", "exact", "GET")),
        r(P, "/", HeaderMatch("a", "exact", "x"), HeaderMatch("b", "exact", "y")),
    ],
    "more-headers-first": [
        r(P, "/", HeaderMatch("a", "exact", "1"), HeaderMatch("b", "present")),
        r(P, "/", HeaderMatch("a", "exact", "1")),
        r(P, "/"),
    ],
    "more-queries-first": [
        r(P, "/", queries=(QueryParamMatch("a", "exact", "1"), QueryParamMatch("b", "present"))),
        r(P, "/", queries=(QueryParamMatch("a", "exact", "1"),)),
        r(P, "/"),
    ],
    "headers-before-queries": [
        r(P, "/", HeaderMatch("a", "present")),
        r(P, "/", queries=(QueryParamMatch("a", "present"),)),
    ],
    "lower-priority-first": [r(P, "/", priority=0), r(P, "/", priority=1)],
    "exact-header-before-regex-contains-present": [
        r(P, "/", HeaderMatch("h", "exact", "v")),
        r(P, "/", HeaderMatch("h", "regex", "v")),
        r(P, "/", HeaderMatch("h", "contains", "v")),
        r(P, "/", HeaderMatch("h", "present")),
    ],
    "header-name-order": [r(P, "/", HeaderMatch("a", "present")), r(P, "/", HeaderMatch("b", "present"))],
    "not-inverted-first": [
        r(P, "/", HeaderMatch("h", "present")),
        r(P, "/", HeaderMatch("h", "present", invert=True)),
    ],
    "query-kinds": [
        r(P, "/", queries=(QueryParamMatch("q", "exact", "v"),)),
        r(P, "/", queries=(QueryParamMatch("q", "regex", "v"),)),
        r(P, "/", queries=(QueryParamMatch("q", "prefix", "v"),)),
        r(P, "/", queries=(QueryParamMatch("q", "suffix", "v"),)),
        r(P, "/", queries=(QueryParamMatch("q", "contains", "v"),)),
        r(P, "/", queries=(QueryParamMatch("q", "present"),)),
    ],
    "case-sensitive-query-first": [
        r(P, "/", queries=(QueryParamMatch("q", "exact", "v"),)),
        r(P, "/", queries=(QueryParamMatch("q", "exact", "v", ignore_case=True),)),
    ],
}


@pytest.mark.parametrize("expected", CASES.values(), ids=CASES.keys())
def test_order_does_not_depend_on_input_order(expected: list[Route]) -> None:
    for permutation in itertools.permutations(expected):
        assert sort_routes(permutation) == expected
