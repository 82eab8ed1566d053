"""Server-side printing: the `meta.k8s.io` Table that `kubectl get` asks for instead of the objects.

kubectl sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;
g=meta.k8s.io,application/json` and prints the rows it gets back; it adds `?includeObject=Object` only
when sorting, so by default each row carries the object's `PartialObjectMetadata` (`includeObject`
unset means Metadata, as on the real server).

Columns are those of the real server: a CRD's additionalPrinterColumns after NAME (or NAME and AGE
when the CRD declares none: apiextensions-apiserver adds AGE only then), the built-in printers of
`table_printers`, or NAME and CREATED AT for kinds without a printer. Ages are computed against the
`now` passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contour.apiserver.errors import bad_request
from contour.apiserver.humanduration import age
from contour.apiserver.resources import PrinterColumn, ResourceType
from contour.apiserver.table_jsonpath import JSONPath, JSONPathError, print_value
from contour.apiserver.table_printers import (
    CREATION_DESCRIPTION,
    NAME_DESCRIPTION,
    Column,
    Printer,
    Row,
    printer_for,
)

TABLE_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")
INCLUDE_OBJECT = ("", "None", "Metadata", "Object")


def table_content_type(version: str = "v1") -> str:
    return f"application/json;as=Table;v={version};g={TABLE_GROUP}"


def table_version(accept: str) -> str | None:
    """The Table version (`v1`, `v1beta1`) the client prefers, or None when it prefers plain objects.

    Media ranges are taken in the client's order (highest q first); the first one this server can
    produce decides: a Table in a known version, or plain JSON or YAML (None).
    """
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for position, part in enumerate(accept.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 0.0
        if pieces[0] and quality > 0:
            ranges.append((-quality, position, pieces[0].lower(), params))
    for _, _, media, params in sorted(ranges):
        if media == "application/yaml" and not params:
            return None
        if media not in ("application/json", "application/*", "*/*"):
            continue
        if not params:
            return None
        if (
            params.get("as") == "Table"
            and params.get("g") == TABLE_GROUP
            and params.get("v") in TABLE_VERSIONS
        ):
            return params["v"]
    return None


class _CRDColumns:
    """A CRD version's columns and their parsed paths (a path that does not parse prints empty cells)."""

    def __init__(self, columns: Sequence[PrinterColumn]) -> None:
        if not columns:
            columns = (
                PrinterColumn(
                    name="Age",
                    type="date",
                    json_path=".metadata.creationTimestamp",
                    description=CREATION_DESCRIPTION,
                ),
            )
        self.columns = tuple(columns)
        self.paths: list[JSONPath | None] = []
        for column in self.columns:
            try:
                self.paths.append(JSONPath.parse(column.json_path))
            except JSONPathError:
                self.paths.append(None)

    def definitions(self) -> list[dict[str, Any]]:
        out = [Column("Name", format="name", description=NAME_DESCRIPTION).definition()]
        for column in self.columns:
            description = column.description or (
                f"Custom resource definition column (in JSONPath format): {column.json_path}"
            )
            out.append(
                Column(column.name, column.type, description, column.priority, column.format).definition()
            )
        return out

    def row(self, obj: Mapping[str, Any], now: datetime) -> Row:
        cells: list[Any] = [_name(obj)]
        for column, path in zip(self.columns, self.paths, strict=True):
            found = path.find(obj) if path is not None else []
            cells.append(_cell(column.type, found[0], now) if found else None)
        return Row(cells)


def _cell(column_type: str, value: Any, now: datetime) -> Any:
    """apiextensions' `cellForJSONValue`, with `string` columns printed as JSONPath prints them."""
    if column_type == "string":
        return print_value(value)
    if value is None:
        return None
    if column_type == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if column_type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        return age(value, now)
    return None


def _name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else ""


def columns_for(rtype: ResourceType) -> list[dict[str, Any]]:
    """The Table's columnDefinitions for a resource type."""
    if rtype.is_custom:
        return _CRDColumns(rtype.printer_columns).definitions()
    columns, _ = printer_for(rtype.group, rtype.kind)
    return [c.definition() for c in columns]


def _row_object(rtype: ResourceType, obj: Mapping[str, Any], include: str, version: str) -> Any:
    if include == "None":
        return None
    if include == "Object":
        full = dict(obj)
        full.setdefault("apiVersion", rtype.api_version)
        full.setdefault("kind", rtype.kind)
        return full
    metadata = obj.get("metadata")
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"{TABLE_GROUP}/{version}",
        "metadata": dict(metadata) if isinstance(metadata, Mapping) else {},
    }


def build_table(
    rtype: ResourceType,
    items: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    list_metadata: Mapping[str, Any] | None = None,
    include_object: str = "",
    no_headers: bool = False,
    version: str = "v1",
) -> dict[str, Any]:
    """A Table of `items`, which are the items of a list (pass its metadata) or one object (pass none).

    Raises APIError 400 for an `includeObject` the real server rejects.
    """
    if include_object not in INCLUDE_OBJECT:
        raise bad_request(f'unrecognized includeObject value: "{include_object}"')
    printer: Printer
    if rtype.is_custom:
        crd = _CRDColumns(rtype.printer_columns)
        definitions, printer = crd.definitions(), crd.row
    else:
        columns, printer = printer_for(rtype.group, rtype.kind)
        definitions = [c.definition() for c in columns]
    rows = []
    for obj in items:
        printed = printer(obj, now)
        row: dict[str, Any] = {"cells": printed.cells}
        if printed.conditions:
            row["conditions"] = printed.conditions
        row["object"] = _row_object(rtype, obj, include_object, version)
        rows.append(row)
    metadata: dict[str, Any] = {}
    source = list_metadata if list_metadata is not None else (items[0].get("metadata") if items else None)
    if isinstance(source, Mapping):
        for key in ("resourceVersion", "continue") if list_metadata is not None else ("resourceVersion",):
            if source.get(key):
                metadata[key] = source[key]
        if list_metadata is not None and source.get("remainingItemCount") is not None:
            metadata["remainingItemCount"] = source["remainingItemCount"]
    table: dict[str, Any] = {"kind": "Table", "apiVersion": f"{TABLE_GROUP}/{version}", "metadata": metadata}
    if not no_headers:
        table["columnDefinitions"] = definitions
    table["rows"] = rows
    return table


def object_table(
    rtype: ResourceType,
    obj: Mapping[str, Any],
    *,
    now: datetime,
    include_object: str = "",
    no_headers: bool = False,
    version: str = "v1",
) -> dict[str, Any]:
    """The Table for a GET of one object."""
    return build_table(
        rtype, [obj], now=now, include_object=include_object, no_headers=no_headers, version=version
    )


def list_table(
    rtype: ResourceType,
    object_list: Mapping[str, Any],
    *,
    now: datetime,
    include_object: str = "",
    no_headers: bool = False,
    version: str = "v1",
) -> dict[str, Any]:
    """The Table for a list response (`{"metadata": {resourceVersion, continue}, "items": [...]}`)."""
    items = object_list.get("items")
    metadata = object_list.get("metadata")
    return build_table(
        rtype,
        [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else [],
        now=now,
        list_metadata=metadata if isinstance(metadata, Mapping) else {},
        include_object=include_object,
        no_headers=no_headers,
        version=version,
    )
