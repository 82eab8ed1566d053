"""Server log lines in Contour's shape: logfmt-like text or one JSON object per line, with Contour's
field names passed through `extra=`."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from contour.logsetup import configure_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def emit(fmt: str, debug: bool = False, **extra: object) -> str:
    stream = io.StringIO()
    configure_logging(fmt, debug, stream)  # type: ignore[arg-type]
    logging.getLogger("contour.test").info("status written for %s", "app", extra=extra)
    return stream.getvalue()


def test_text_is_logfmt_with_contours_fields(restore_root: None) -> None:
    line = emit("text", kind="HTTPProxy", namespace="shop", object_name="app", context="status")
    fields = line.strip().split(" ", 2)
    assert (fields[1], fields[2]) == (
        "level=info",
        'msg="status written for app" context=status kind=HTTPProxy namespace=shop name=app',
    )
    assert fields[0].startswith("time=") and fields[0].endswith("Z")


def test_json_is_one_object_per_line_with_the_same_fields(restore_root: None) -> None:
    line = emit("json", stream_id=7, node_id="envoy-1")
    record = json.loads(line)
    assert {k: v for k, v in record.items() if k != "time"} == {
        "level": "info",
        "msg": "status written for app",
        "context": "contour.test",
        "stream_id": 7,
        "node_id": "envoy-1",
    }
    assert line.count("\n") == 1


def test_an_exception_is_written_as_the_error_field(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging("json", False, stream)
    try:
        raise ValueError("bad input")
    except ValueError:
        logging.getLogger("contour.test").exception("rebuild failed")
    record = json.loads(stream.getvalue())
    assert (record["level"], record["error"]) == ("error", "ValueError: bad input")
    assert "Traceback" in record["stack"]


@pytest.mark.parametrize(("debug", "written"), [(False, ""), (True, "level=debug")], ids=["info", "debug"])
def test_debug_records_only_with_debug(restore_root: None, debug: bool, written: str) -> None:
    stream = io.StringIO()
    configure_logging("text", debug, stream)
    logging.getLogger("contour.test").debug("details")
    assert (written in stream.getvalue(), bool(stream.getvalue())) == (True, debug)
