"""Records an informer's events and checks that they tell a consistent story.

Replaying the events key by key must be legal (ADDED only when absent, MODIFIED and DELETED only when
present, each `old` being what the previous event left) and must end exactly at the server's objects:
if one update were lost, the replayed state of that key would differ from the server's.
"""

from __future__ import annotations

from typing import Any

import pydantic

from contour.k8s.informer import InformerEvent, Item


def as_dict(item: Item) -> dict[str, Any]:
    if isinstance(item, pydantic.BaseModel):
        dumped: dict[str, Any] = item.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return dumped
    return item


def rv_of(item: Item) -> str:
    return str(as_dict(item)["metadata"]["resourceVersion"])


class EventLog:
    def __init__(self) -> None:
        self.events: list[InformerEvent] = []

    def __call__(self, event: InformerEvent) -> None:
        self.events.append(event)

    def of(self, key: str) -> list[str]:
        return [e.type for e in self.events if e.key == key]

    def count(self, type_: str) -> int:
        return sum(1 for e in self.events if e.type == type_)

    def problems(self, server: dict[str, dict[str, Any]]) -> list[str]:
        """What is wrong with the event sequence, replayed against the server's final objects."""
        out: list[str] = []
        state: dict[str, Item] = {}
        invalid: set[str] = set()
        for n, event in enumerate(self.events):
            prev = state.get(event.key)
            was_invalid = event.key in invalid
            invalid.discard(event.key)
            if event.type == "INVALID":
                invalid.add(event.key)
            if event.type == "ADDED" and prev is not None:
                out.append(f"#{n} ADDED {event.key} which was present")
            if event.type in ("MODIFIED", "DELETED") and prev is None and not was_invalid:
                out.append(f"#{n} {event.type} {event.key} which was absent")
            if event.type in ("MODIFIED", "DELETED") and event.old is not prev:
                out.append(f"#{n} {event.type} {event.key}: old is not the previous object")
            if event.type in ("ADDED", "MODIFIED") and event.obj is not None:
                if prev is not None and rv_of(prev) == rv_of(event.obj):
                    out.append(f"#{n} {event.type} {event.key} re-emitted resourceVersion {rv_of(prev)}")
                state[event.key] = event.obj
            else:
                state.pop(event.key, None)
        for key in sorted(state.keys() | server.keys()):
            server_rv = server[key]["metadata"]["resourceVersion"] if key in server else None
            if key not in server:
                out.append(f"{key}: replayed events keep it, the server does not have it")
            elif key not in state:
                out.append(f"{key}: the server has it (rv {server_rv}), events lost it")
            elif as_dict(state[key]) != server[key]:
                out.append(f"{key}: replayed rv {rv_of(state[key])} != server rv {server_rv}")
        return out
