"""The embedded API server's storage: every object and the recent change history, in SQLite.

Guarantees: a write is committed (WAL; synchronous=NORMAL survives a killed process, since the WAL is
in the OS's hands once the commit returns) before the caller acknowledges it, so after `kill -9` and a
restart every acknowledged object is back with the same resourceVersion. resourceVersions are one
global, strictly increasing integer. The last `history` changes are kept (in memory and on disk) so
that watches can resume from a resourceVersion, even across a restart; older ones answer 410 Gone.

Objects are also held in memory (parsed, plus their JSON text) because lists and watches must be
fast; SQLite is the durable copy, read only at start.
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    type TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects


@dataclass
class Stored:
    """One object as stored: its resourceVersion, the parsed object and its JSON text."""

    rv: int
    obj: dict[str, Any]
    text: str


@dataclass(frozen=True)
class Change:
    """One entry of the history: what happened to which object at which resourceVersion."""

    rv: int
    resource: str
    namespace: str
    name: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]
    text: str


class Store:
    def __init__(self, path: Path, *, history: int = 10_000) -> None:
        self.path = path
        self.history_size = history
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self.created = self._meta("created") is None
        if self.created:
            self._db.execute("INSERT INTO meta VALUES ('created', '1'), ('rv', '1')")
        self.rv = int(self._meta("rv") or "1")
        self._objects: dict[str, dict[Key, Stored]] = {}
        for resource, namespace, name, rv, data in self._db.execute(
            "SELECT resource, namespace, name, rv, data FROM objects"
        ):
            self._objects.setdefault(resource, {})[(namespace, name)] = Stored(rv, json.loads(data), data)
        self.changes: deque[Change] = deque(maxlen=history)
        rows = self._db.execute(
            "SELECT rv, resource, namespace, name, type, data FROM events ORDER BY rv DESC LIMIT ?",
            (history,),
        ).fetchall()
        for rv, resource, namespace, name, kind, data in reversed(rows):
            self.changes.append(Change(rv, resource, namespace, name, kind, json.loads(data), data))
        # The oldest resourceVersion a watch can resume from (exclusive): anything older is gone.
        self.compacted = self.changes[0].rv - 1 if self.changes else self.rv
        self._writes_since_trim = 0

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self._db.close()

    # Reads -----------------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> Stored | None:
        return self._objects.get(resource, {}).get((namespace, name))

    def items(self, resource: str, namespace: str | None = None) -> Iterator[tuple[Key, Stored]]:
        """Objects of one resource in (namespace, name) order; all namespaces when namespace is None."""
        table = self._objects.get(resource, {})
        for key in sorted(table):
            if namespace is None or key[0] == namespace:
                yield key, table[key]

    def resources(self) -> list[str]:
        return sorted(r for r, table in self._objects.items() if table)

    def count(self, resource: str) -> int:
        return len(self._objects.get(resource, {}))

    # Writes ----------------------------------------------------------------------------------

    def next_rv(self) -> int:
        return self.rv + 1

    def put(self, resource: str, obj: dict[str, Any], event: str) -> Change:
        """Store `obj` (its metadata.resourceVersion must already be next_rv()) and record the change."""
        meta = obj["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        rv = self.rv + 1
        if meta.get("resourceVersion") != str(rv):
            raise ValueError("put() expects metadata.resourceVersion to be next_rv()")
        text = json.dumps(obj, separators=(",", ":"))
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)", (resource, namespace, name, rv, text)
            )
            self._record((rv, resource, namespace, name, event, text))
        self.rv = rv
        self._objects.setdefault(resource, {})[(namespace, name)] = Stored(rv, obj, text)
        return self._remember(Change(rv, resource, namespace, name, event, obj, text))

    def delete(self, resource: str, namespace: str, name: str, final: dict[str, Any]) -> Change:
        """Remove an object; `final` is its last state with metadata.resourceVersion = next_rv()."""
        rv = self.rv + 1
        text = json.dumps(final, separators=(",", ":"))
        with self._transaction():
            self._db.execute(
                "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
                (resource, namespace, name),
            )
            self._record((rv, resource, namespace, name, "DELETED", text))
        self.rv = rv
        self._objects.get(resource, {}).pop((namespace, name), None)
        return self._remember(Change(rv, resource, namespace, name, "DELETED", final, text))

    def _record(self, row: tuple[int, str, str, str, str, str]) -> None:
        """Append (rv, resource, namespace, name, type, data) to the history and advance the counter."""
        self._db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", row)
        self._db.execute("UPDATE meta SET value = ? WHERE key = 'rv'", (str(row[0]),))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _remember(self, change: Change) -> Change:
        if len(self.changes) == self.changes.maxlen:
            self.compacted = self.changes[0].rv
        self.changes.append(change)
        self._writes_since_trim += 1
        if self._writes_since_trim >= max(100, self.history_size // 10):
            self._writes_since_trim = 0
            oldest = self.changes[0].rv
            self._db.execute("DELETE FROM events WHERE rv < ?", (oldest,))
        return change

    def changes_since(self, rv: int) -> list[Change] | None:
        """Changes after `rv`, oldest first; None when `rv` is older than the retained history."""
        if rv < self.compacted:
            return None
        out: list[Change] = []
        for change in reversed(self.changes):
            if change.rv <= rv:
                break
            out.append(change)
        out.reverse()
        return out


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
