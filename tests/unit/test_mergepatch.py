"""RFC 7386 JSON merge patch: the RFC's appendix A, computing a patch from two objects, the bodies
kube-apiserver refuses, and the property that applying a computed patch gives the target back."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contour.apiserver.errors import APIError
from contour.apiserver.jsonpatch import MAX_DEPTH
from contour.apiserver.mergepatch import apply_merge_patch, check_merge_patch_body, create_merge_patch

APPENDIX_A = [
    pytest.param({"a": "b"}, {"a": "c"}, {"a": "c"}, id="replace a member"),
    pytest.param({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}, id="add a member"),
    pytest.param({"a": "b"}, {"a": None}, {}, id="null removes a member"),
    pytest.param({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}, id="null removes only that member"),
    pytest.param({"a": ["b"]}, {"a": "c"}, {"a": "c"}, id="array replaced by a string"),
    pytest.param({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}, id="string replaced by an array"),
    pytest.param(
        {"a": {"b": "c"}},
        {"a": {"b": "d", "c": None}},
        {"a": {"b": "d"}},
        id="nested objects merge",
    ),
    pytest.param({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}, id="arrays are replaced, not merged"),
    pytest.param(["a", "b"], ["c", "d"], ["c", "d"], id="array target, array patch"),
    pytest.param({"a": "b"}, ["c"], ["c"], id="array patch replaces an object"),
    pytest.param({"a": "foo"}, None, None, id="null patch replaces everything"),
    pytest.param({"a": "foo"}, "bar", "bar", id="string patch replaces everything"),
    pytest.param({"e": None}, {"a": 1}, {"e": None, "a": 1}, id="existing nulls are kept"),
    pytest.param([1, 2], {"a": "b", "c": None}, {"a": "b"}, id="object patch on an array target"),
    pytest.param({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}, id="nulls vanish from new objects"),
]


@pytest.mark.parametrize(("target", "patch", "expected"), APPENDIX_A)
def test_rfc7386_appendix_a(target: Any, patch: Any, expected: Any) -> None:
    assert apply_merge_patch(target, patch) == expected


CREATED = [
    pytest.param({"a": 1}, {"a": 1}, {}, id="equal objects give an empty patch"),
    pytest.param({"a": 1}, {"a": 2}, {"a": 2}, id="changed member"),
    pytest.param({"a": 1, "b": 2}, {"a": 1}, {"b": None}, id="removed member becomes null"),
    pytest.param({"a": 1}, {"a": 1, "b": {"c": 1}}, {"b": {"c": 1}}, id="added member"),
    pytest.param(
        {"status": {"conditions": [{"type": "Ready"}], "observedGeneration": 1}},
        {"status": {"conditions": [{"type": "Ready"}], "observedGeneration": 2}},
        {"status": {"observedGeneration": 2}},
        id="only the changed nested member",
    ),
    pytest.param({"a": [1, 2]}, {"a": [2, 1]}, {"a": [2, 1]}, id="a changed list is sent whole"),
    pytest.param({"a": {"b": 1}}, {"a": 5}, {"a": 5}, id="object replaced by a scalar"),
    pytest.param({"a": True}, {"a": 1}, {"a": 1}, id="true and 1 differ"),
    pytest.param(
        {"a": {"b": {"c": 1}}}, {"a": {"b": {"c": 1}}, "d": 1}, {"d": 1}, id="unchanged subtree dropped"
    ),
    pytest.param([1], {"a": 1}, {"a": 1}, id="not both objects: the modified value"),
]


@pytest.mark.parametrize(("original", "modified", "expected"), CREATED)
def test_create_merge_patch(original: Any, modified: Any, expected: Any) -> None:
    assert create_merge_patch(original, modified) == expected


REFUSED_BODIES = [
    pytest.param(None, "Invalid JSON Patch", id="null"),
    pytest.param(
        [{"op": "add"}],
        "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}",
        id="array",
    ),
    pytest.param(
        "x",
        "error decoding patch: json: cannot unmarshal string into Go value of type map[string]interface {}",
        id="string",
    ),
    pytest.param(
        3,
        "error decoding patch: json: cannot unmarshal number into Go value of type map[string]interface {}",
        id="number",
    ),
    pytest.param(
        False,
        "error decoding patch: json: cannot unmarshal bool into Go value of type map[string]interface {}",
        id="bool",
    ),
]


@pytest.mark.parametrize(("body", "message"), REFUSED_BODIES)
def test_the_server_refuses_a_body_that_is_not_an_object(body: Any, message: str) -> None:
    with pytest.raises(APIError) as caught:
        check_merge_patch_body(body)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


def test_an_object_body_is_accepted() -> None:
    check_merge_patch_body({"metadata": {"labels": {"a": None}}})


def test_neither_input_is_modified() -> None:
    doc = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    patch = {"a": {"b": None, "e": {"f": None, "g": [1]}}, "d": {"x": 1}}
    before = copy.deepcopy((doc, patch))
    result = apply_merge_patch(doc, patch)
    result["a"]["e"]["g"].append(2)
    assert (doc, patch) == before
    assert result == {"a": {"c": [1, 2], "e": {"g": [1, 2]}}, "d": {"x": 1}}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"n": value}
    return value


def test_a_patch_nested_past_the_limit_is_a_bad_request() -> None:
    with pytest.raises(APIError) as caught:
        apply_merge_patch({}, nested(MAX_DEPTH + 1))
    assert (caught.value.code, caught.value.message) == (
        400,
        f"the patch is nested more than {MAX_DEPTH} levels deep",
    )


def test_a_document_a_hundred_thousand_levels_deep_is_refused_without_recursion() -> None:
    with pytest.raises(APIError) as caught:
        create_merge_patch(nested(100_000), {})
    assert caught.value.code == 400


def test_objects_just_under_the_limit_merge() -> None:
    assert apply_merge_patch(nested(MAX_DEPTH - 1), nested(MAX_DEPTH)) == nested(MAX_DEPTH)


# Merge patches cannot set a member to null (null deletes), so generated objects hold no null members;
# nulls inside arrays are fine: arrays are replaced whole.
keys = st.text(alphabet="abc$/", max_size=3)
scalars = (
    st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=3)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner | st.none(), max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=25,
)
objects = st.dictionaries(keys, values, max_size=5)


@given(objects, objects)
def test_applying_the_created_patch_gives_the_modified_object(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert apply_merge_patch(a, create_merge_patch(a, b)) == b


@given(objects)
def test_an_object_diffs_to_an_empty_patch_with_itself(a: dict[str, Any]) -> None:
    assert create_merge_patch(a, copy.deepcopy(a)) == {}


@given(objects, objects)
def test_applying_twice_is_applying_once(a: dict[str, Any], b: dict[str, Any]) -> None:
    patch = create_merge_patch(a, b)
    once = apply_merge_patch(a, patch)
    assert apply_merge_patch(once, patch) == once
