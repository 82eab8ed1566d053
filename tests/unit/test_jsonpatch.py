"""RFC 6902 JSON Patch as kube-apiserver applies it: the RFC's appendix A, the json-patch v4 behaviours
Kubernetes keeps, and the Status (code, reason, message, cause) every malformed patch is answered with."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contour.apiserver.errors import APIError
from contour.apiserver.jsonpatch import MAX_DEPTH, REJECTED, apply_json_patch, deep_copy, json_equal

# --- RFC 6902, appendix A

APPENDIX_A = [
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"baz": "qux", "foo": "bar"},
        id="A.1 add an object member",
    ),
    pytest.param(
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
        id="A.2 add an array element",
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"},
        [{"op": "remove", "path": "/baz"}],
        {"foo": "bar"},
        id="A.3 remove an object member",
    ),
    pytest.param(
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
        id="A.4 remove an array element",
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
        id="A.5 replace a value",
    ),
    pytest.param(
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        id="A.6 move a value",
    ),
    pytest.param(
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
        id="A.7 move an array element",
    ),
    pytest.param(
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
        id="A.8 test a value: success",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
        id="A.10 add a nested member object",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
        id="A.11 ignore unrecognized elements",
    ),
    pytest.param(
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": 10}],
        {"/": 9, "~1": 10},
        id="A.14 ~ escape ordering",
    ),
    pytest.param(
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
        id="A.16 add an array value",
    ),
]


@pytest.mark.parametrize(("doc", "patch", "expected"), APPENDIX_A)
def test_rfc6902_appendix_a(doc: Any, patch: Any, expected: Any) -> None:
    assert apply_json_patch(doc, patch) == expected


APPENDIX_A_ERRORS = [
    pytest.param(
        {"baz": "qux"},
        [{"op": "test", "path": "/baz", "value": "bar"}],
        "testing value /baz failed: test failed",
        id="A.9 test a value: error",
    ),
    pytest.param(
        {"foo": "bar"},
        [{"op": "add", "path": "/baz/bat", "value": "qux"}],
        'add operation does not apply: doc is missing path: "/baz/bat": missing value',
        id="A.12 add to a nonexistent target",
    ),
    # A.13's duplicate "op" member never reaches the patcher: JSON decoding keeps the last one.
    pytest.param(
        {"foo": "bar"},
        [{"op": "remove", "path": "/baz", "value": "qux"}],
        "error in remove for path: '/baz': Unable to remove nonexistent key: baz: missing value",
        id="A.13 invalid patch document (decoded, last op wins)",
    ),
    pytest.param(
        {"/": 9, "~1": 10},
        [{"op": "test", "path": "/~01", "value": "10"}],
        "testing value /~01 failed: test failed",
        id="A.15 comparing strings and numbers",
    ),
]


@pytest.mark.parametrize(("doc", "patch", "cause"), APPENDIX_A_ERRORS)
def test_rfc6902_appendix_a_errors(doc: Any, patch: Any, cause: str) -> None:
    with pytest.raises(APIError) as caught:
        apply_json_patch(doc, patch)
    assert (caught.value.code, caught.value.details["causes"][0]["message"]) == (422, cause)


# --- Kubernetes' json-patch v4

V4_BEHAVIOURS = [
    pytest.param(
        {"a": 1},
        [{"op": "replace", "path": "/b", "value": 2}],
        {"a": 1, "b": 2},
        id="replace of a missing member adds it",
    ),
    pytest.param(
        {"a": 1},
        [{"op": "copy", "from": "/missing", "path": "/b"}],
        {"a": 1, "b": None},
        id="copy from a missing member copies null",
    ),
    pytest.param(
        {"a": [1, 2, 3]},
        [{"op": "replace", "path": "/a/-1", "value": 9}],
        {"a": [1, 2, 9]},
        id="negative index counts from the end",
    ),
    pytest.param(
        {"a": [1, 2]},
        [{"op": "add", "path": "/a/-1", "value": 9}],
        {"a": [1, 2, 9]},
        id="add at -1 appends",
    ),
    pytest.param({"a": [1, 2]}, [{"op": "remove", "path": "/a/-2"}], {"a": [2]}, id="remove at -2"),
    pytest.param(
        {"a": 1},
        [{"op": "replace", "path": "", "value": {"b": 2}}],
        {"b": 2},
        id="replace of the whole document",
    ),
    pytest.param(
        {"a": 1},
        [{"op": "replace", "path": "", "value": 3}],
        {"a": 1},
        id="replace of the whole document by a scalar is ignored",
    ),
    pytest.param(
        {"a": 1}, [{"op": "test", "path": "", "value": {"a": 1}}], {"a": 1}, id="test of the whole document"
    ),
    pytest.param(
        {"a": 1},
        [{"op": "test", "path": "/missing", "value": None}],
        {"a": 1},
        id="test null against a missing member passes",
    ),
    pytest.param(
        {"b": 1, "a": {"b": 2}},
        [{"op": "replace", "path": "a/b", "value": 9}],
        {"b": 9, "a": {"b": 2}},
        id="text before the first slash is ignored",
    ),
    pytest.param(
        {"~1": 1, "/0": 2},
        [{"op": "remove", "path": "/~10"}],
        {"~1": 1},
        id="~10 unescapes to /0",
    ),
    pytest.param({"a": 1}, None, {"a": 1}, id="null patch is a no-op"),
    pytest.param({"a": 1}, [], {"a": 1}, id="empty patch is a no-op"),
    pytest.param(
        {"a": 1},
        [{"op": "add", "path": "/b"}],
        {"a": 1, "b": None},
        id="add without value adds null",
    ),
    pytest.param(
        {"metadata": {"annotations": {}}},
        [{"op": "add", "path": "/metadata/annotations/example.com~1owner", "value": "me"}],
        {"metadata": {"annotations": {"example.com/owner": "me"}}},
        id="~1 escapes a slash in an annotation key",
    ),
    pytest.param(
        {"spec": {"replicas": 1}},
        [
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
        ],
        {"spec": {"replicas": 3}},
        id="test then replace (compare-and-swap)",
    ),
    pytest.param(
        {"a": [1, {"b": [2, 3]}]},
        [{"op": "move", "from": "/a/1/b/0", "path": "/a/0"}],
        {"a": [2, 1, {"b": [3]}]},
        id="move within nested arrays",
    ),
]


@pytest.mark.parametrize(("doc", "patch", "expected"), V4_BEHAVIOURS)
def test_kubernetes_json_patch_behaviour(doc: Any, patch: Any, expected: Any) -> None:
    assert apply_json_patch(doc, patch) == expected


# --- errors

DECODING_ERRORS = [
    pytest.param({"op": "add"}, "object into Go value of type []handlers.jsonPatchOp", id="not a list"),
    pytest.param("add", "string into Go value of type []handlers.jsonPatchOp", id="a string"),
    pytest.param([1], "number into Go value of type handlers.jsonPatchOp", id="operation is a number"),
    pytest.param([["add"]], "array into Go value of type handlers.jsonPatchOp", id="operation is a list"),
    pytest.param(
        [{"op": 1, "path": "/a"}],
        "number into Go struct field jsonPatchOp.op of type string",
        id="op is not a string",
    ),
    pytest.param(
        [{"op": "add", "path": ["a"]}],
        "array into Go struct field jsonPatchOp.path of type string",
        id="path is not a string",
    ),
    pytest.param(
        [{"op": "move", "path": "/a", "from": True}],
        "bool into Go struct field jsonPatchOp.from of type string",
        id="from is not a string",
    ),
]


@pytest.mark.parametrize(("patch", "detail"), DECODING_ERRORS)
def test_a_malformed_body_is_a_bad_request(patch: Any, detail: str) -> None:
    with pytest.raises(APIError) as caught:
        apply_json_patch({"a": 1}, patch)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400,
        "BadRequest",
        f"error decoding patch: json: cannot unmarshal {detail}",
    )


DOC = {"a": {"b": [1, 2, 3]}, "c": "d"}

APPLY_ERRORS = [
    pytest.param([{"op": "frob", "path": "/a"}], "Unexpected kind: frob", id="unknown op"),
    pytest.param([{"path": "/a"}], "Unexpected kind: unknown", id="missing op"),
    pytest.param([None], "Unexpected kind: unknown", id="null operation"),
    pytest.param(
        [{"op": "add", "value": 1}],
        "add operation failed to decode path: missing value",
        id="add without path",
    ),
    pytest.param(
        [{"op": "remove"}],
        "remove operation failed to decode path: missing value",
        id="remove without path",
    ),
    pytest.param(
        [{"op": "replace", "value": 1}],
        "replace operation failed to decode path: operation missing path field: missing value",
        id="replace without path",
    ),
    pytest.param(
        [{"op": "test", "value": 1}],
        "test operation failed to decode path: operation missing path field: missing value",
        id="test without path",
    ),
    pytest.param(
        [{"op": "move", "path": "/x"}],
        "move operation failed to decode from: operation, missing from field: missing value",
        id="move without from",
    ),
    pytest.param(
        [{"op": "move", "from": "/c"}],
        "move operation failed to decode path: operation missing path field: missing value",
        id="move without path",
    ),
    pytest.param(
        [{"op": "copy", "path": "/x"}],
        "copy operation failed to decode from: operation, missing from field: missing value",
        id="copy without from",
    ),
    pytest.param(
        [{"op": "copy", "from": "/c"}],
        "copy operation failed to decode path: missing value",
        id="copy without path",
    ),
    pytest.param(
        [{"op": "add", "path": "", "value": {}}],
        'add operation does not apply: doc is missing path: "": missing value',
        id="add to the whole document",
    ),
    pytest.param(
        [{"op": "remove", "path": "/x/y"}],
        'remove operation does not apply: doc is missing path: "/x/y": missing value',
        id="remove under a missing parent",
    ),
    pytest.param(
        [{"op": "replace", "path": "/x/y", "value": 1}],
        "replace operation does not apply: doc is missing path: /x/y: missing value",
        id="replace under a missing parent",
    ),
    pytest.param(
        [{"op": "add", "path": "/c/x", "value": 1}],
        'add operation does not apply: doc is missing path: "/c/x": missing value',
        id="add under a scalar",
    ),
    pytest.param(
        [{"op": "add", "path": "/a/b/x/y", "value": 1}],
        'add operation does not apply: doc is missing path: "/a/b/x/y": missing value',
        id="non-numeric index in the middle of a path",
    ),
    pytest.param(
        [{"op": "test", "path": "/x/y", "value": 1}],
        "test operation does not apply: is missing path: /x/y: missing value",
        id="test under a missing parent",
    ),
    pytest.param(
        [{"op": "add", "path": "/a/b/4", "value": 9}],
        "error in add for path: '/a/b/4': Unable to access invalid index: 4: invalid index referenced",
        id="add past the end",
    ),
    pytest.param(
        [{"op": "add", "path": "/a/b/-5", "value": 9}],
        "error in add for path: '/a/b/-5': Unable to access invalid index: -5: invalid index referenced",
        id="add before the start",
    ),
    pytest.param(
        [{"op": "add", "path": "/a/b/x", "value": 9}],
        "error in add for path: '/a/b/x': value was not a proper array index: 'x': "
        'strconv.Atoi: parsing "x": invalid syntax',
        id="add at a non-numeric index",
    ),
    pytest.param(
        [{"op": "remove", "path": "/a/b/3"}],
        "error in remove for path: '/a/b/3': Unable to access invalid index: 3: invalid index referenced",
        id="remove an index out of range",
    ),
    pytest.param(
        [{"op": "remove", "path": "/a/b/-"}],
        "error in remove for path: '/a/b/-': strconv.Atoi: parsing \"-\": invalid syntax",
        id="remove the append index",
    ),
    pytest.param(
        [{"op": "remove", "path": "/a/x"}],
        "error in remove for path: '/a/x': Unable to remove nonexistent key: x: missing value",
        id="remove a missing member",
    ),
    pytest.param(
        [{"op": "replace", "path": "/a/b/7", "value": 1}],
        "replace operation does not apply: doc is missing key: /a/b/7: missing value",
        id="replace an index out of range",
    ),
    pytest.param(
        [{"op": "replace", "path": "/a/b/-4", "value": 1}],
        "replace operation does not apply: doc is missing key: /a/b/-4: missing value",
        id="replace a negative index out of range",
    ),
    pytest.param(
        [{"op": "remove", "path": "/a/b/-4"}],
        "error in remove for path: '/a/b/-4': Unable to access invalid index: -4: invalid index referenced",
        id="remove a negative index out of range",
    ),
    pytest.param(
        [{"op": "test", "path": "/a/b/-4", "value": 1}],
        "error in test for path: '/a/b/-4': Unable to access invalid index: -4: invalid index referenced",
        id="test a negative index out of range",
    ),
    pytest.param(
        [{"op": "move", "from": "/a/x", "path": "/c"}],
        "error in move for path: 'x': Unable to remove nonexistent key: x: missing value",
        id="move from a missing member",
    ),
    pytest.param(
        [{"op": "move", "from": "/a/b/5", "path": "/c"}],
        "error in move for path: '5': Unable to access invalid index: 5: invalid index referenced",
        id="move from an index out of range",
    ),
    pytest.param(
        [{"op": "move", "from": "/a", "path": "/a/b/0"}],
        "move operation does not apply: doc is missing destination path: /a/b/0: missing value",
        id="move into its own child",
    ),
    pytest.param(
        [{"op": "copy", "from": "/a/b/9", "path": "/c"}],
        "error in copy for from: '/a/b/9': Unable to access invalid index: 9: invalid index referenced",
        id="copy from an index out of range",
    ),
    pytest.param(
        [{"op": "copy", "from": "/c", "path": "/a/b/8"}],
        "error while adding value during copy: Unable to access invalid index: 8: invalid index referenced",
        id="copy to an index out of range",
    ),
    pytest.param(
        [{"op": "test", "path": "/a/b/1", "value": 2.5}],
        "testing value /a/b/1 failed: test failed",
        id="test failure",
    ),
    pytest.param(
        [{"op": "test", "path": "/a/b/1", "value": True}],
        "testing value /a/b/1 failed: test failed",
        id="test: a bool is not a number",
    ),
    pytest.param(
        [{"op": "test", "path": "/c"}],
        "testing value /c failed: test failed",
        id="test without value",
    ),
    pytest.param(
        [{"op": "test", "path": "/a/b/12", "value": 1}],
        "error in test for path: '/a/b/12': Unable to access invalid index: 12: invalid index referenced",
        id="test an index out of range",
    ),
    pytest.param(
        [{"op": "add", "path": "/x", "value": 1}, {"op": "test", "path": "/x", "value": 2}],
        "testing value /x failed: test failed",
        id="a later operation fails",
    ),
]


@pytest.mark.parametrize(("patch", "cause"), APPLY_ERRORS)
def test_an_operation_that_does_not_apply_is_unprocessable(patch: Any, cause: str) -> None:
    with pytest.raises(APIError) as caught:
        apply_json_patch(DOC, patch)
    assert (caught.value.code, caught.value.reason, caught.value.message, caught.value.details) == (
        422,
        "Invalid",
        REJECTED,
        {"causes": [{"reason": "UnexpectedServerResponse", "message": cause}]},
    )


def test_a_failed_test_answers_the_real_servers_status_body() -> None:
    with pytest.raises(APIError) as caught:
        apply_json_patch({"spec": {"replicas": 2}}, [{"op": "test", "path": "/spec/replicas", "value": 1}])
    assert caught.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "details": {
            "causes": [
                {
                    "reason": "UnexpectedServerResponse",
                    "message": "testing value /spec/replicas failed: test failed",
                }
            ]
        },
        "code": 422,
    }


def test_more_than_ten_thousand_operations_is_too_large() -> None:
    patch = [{"op": "test", "path": "/a", "value": 1}] * 10_001
    with pytest.raises(APIError) as caught:
        apply_json_patch({"a": 1}, patch)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        413,
        "RequestEntityTooLarge",
        "The allowed maximum operations in a JSON patch is 10000, got 10001",
    )


def test_ten_thousand_operations_are_allowed() -> None:
    patch = [{"op": "add", "path": "/a/-", "value": i} for i in range(10_000)]
    assert apply_json_patch({"a": []}, patch) == {"a": list(range(10_000))}


def test_copies_adding_up_past_three_mebibytes_are_refused() -> None:
    doc = {"big": "x" * (1024 * 1024)}  # 1 MiB + 2 quote bytes per copy
    patch = [{"op": "copy", "from": "/big", "path": f"/c{i}"} for i in range(3)]
    with pytest.raises(APIError) as caught:
        apply_json_patch(doc, patch)
    assert caught.value.details["causes"][0]["message"] == (
        "Unable to complete the copy, the accumulated size increase of copy is 3145734, "
        "exceeding the limit 3145728"
    )


# --- inputs stay untouched


def test_neither_input_is_modified() -> None:
    doc = {"a": {"b": [1, {"c": 2}]}, "d": "e"}
    patch = [
        {"op": "add", "path": "/a/b/-", "value": {"x": [1]}},
        {"op": "remove", "path": "/d"},
        {"op": "move", "from": "/a/b/1", "path": "/m"},
        {"op": "copy", "from": "/m", "path": "/n"},
        {"op": "replace", "path": "/a/b/0", "value": [9]},
    ]
    before = copy.deepcopy((doc, patch))
    apply_json_patch(doc, patch)
    assert (doc, patch) == before


def test_the_result_shares_nothing_with_the_patch() -> None:
    value = {"x": [1]}
    result = apply_json_patch({}, [{"op": "add", "path": "/v", "value": value}])
    result["v"]["x"].append(2)
    assert value == {"x": [1]}


# --- depth


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"n": value}
    return value


def test_a_patch_nested_past_the_limit_is_a_bad_request() -> None:
    with pytest.raises(APIError) as caught:
        apply_json_patch({}, [{"op": "add", "path": "/deep", "value": nested(MAX_DEPTH)}])
    assert (caught.value.code, caught.value.message) == (
        400,
        f"the patch is nested more than {MAX_DEPTH} levels deep",
    )


def test_a_document_a_hundred_thousand_levels_deep_is_refused_without_recursion() -> None:
    with pytest.raises(APIError) as caught:
        apply_json_patch(nested(100_000), [{"op": "add", "path": "/a", "value": 1}])
    assert (caught.value.code, caught.value.message) == (
        400,
        f"the object is nested more than {MAX_DEPTH} levels deep",
    )


def test_a_patch_that_makes_the_document_too_deep_is_refused() -> None:
    doc = nested(MAX_DEPTH - 10)
    deep_inside = "/n" * (MAX_DEPTH - 20) + "/x"
    with pytest.raises(APIError) as caught:
        apply_json_patch(doc, [{"op": "add", "path": deep_inside, "value": nested(20)}])
    assert caught.value.message == f"the patched object is nested more than {MAX_DEPTH} levels deep"


def test_a_document_just_under_the_limit_is_patched() -> None:
    doc = nested(MAX_DEPTH - 1)
    assert apply_json_patch(doc, [{"op": "add", "path": "/x", "value": 1}])["x"] == 1


# --- properties

keys = st.text(alphabet="ab/~01", max_size=4)
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
documents = st.dictionaries(keys, json_values, max_size=5)


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointers(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every (pointer, value) below `doc`."""
    found: list[tuple[str, Any]] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, value in items:
        pointer = f"{prefix}/{escape(str(key))}"
        found.append((pointer, value))
        found.extend(pointers(value, pointer))
    return found


def containers(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    return [(prefix, doc)] + [(p, v) for p, v in pointers(doc, prefix) if isinstance(v, (dict, list))]


@given(documents, st.data())
def test_every_value_tests_equal_at_its_pointer(doc: dict[str, Any], data: st.DataObject) -> None:
    found = pointers(doc)
    if found:
        pointer, value = data.draw(st.sampled_from(found))
        assert apply_json_patch(doc, [{"op": "test", "path": pointer, "value": value}]) == doc


@given(documents, json_values, keys, st.data())
def test_add_then_remove_round_trips(doc: dict[str, Any], value: Any, key: str, data: st.DataObject) -> None:
    where, container = data.draw(st.sampled_from(containers(doc)))
    token = escape(key) if isinstance(container, dict) else str(data.draw(st.integers(0, len(container))))
    if isinstance(container, dict) and key in container:
        return  # adding over an existing member replaces it; removing would not bring it back
    pointer = f"{where}/{token}"
    added = apply_json_patch(doc, [{"op": "add", "path": pointer, "value": value}])
    assert json_equal(apply_json_patch(added, [{"op": "test", "path": pointer, "value": value}]), added)
    assert apply_json_patch(added, [{"op": "remove", "path": pointer}]) == doc


@given(documents, keys, st.data())
def test_move_there_and_back_round_trips(doc: dict[str, Any], key: str, data: st.DataObject) -> None:
    movable = [(p, v) for p, v in pointers(doc) if p.count("/") == 1]
    if not movable or key in doc:
        return
    source, _ = data.draw(st.sampled_from(movable))
    target = f"/{escape(key)}"
    moved = apply_json_patch(doc, [{"op": "move", "from": source, "path": target}])
    assert apply_json_patch(moved, [{"op": "move", "from": target, "path": source}]) == doc


@given(documents, documents)
def test_replacing_the_whole_document_gives_the_value(doc: dict[str, Any], other: dict[str, Any]) -> None:
    assert apply_json_patch(doc, [{"op": "replace", "path": "", "value": other}]) == other


@given(json_values)
def test_deep_copy_is_equal_and_independent(value: Any) -> None:
    copied = deep_copy(value)
    assert json_equal(copied, value)
    if isinstance(copied, (dict, list)):
        assert copied is not value
