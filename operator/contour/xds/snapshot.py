"""Immutable xDS snapshots whose resources are serialised once, whatever the number of streams.

``Snapshot.build(version, {type_url: [messages]})`` serialises every resource (deterministically) into
the bytes of a ``google.protobuf.Any`` already framed as a ``DiscoveryResponse.resources`` element, and
gives it a per-resource version (a hash of those bytes) for delta xDS. Per type, the version sent as
SotW ``version_info`` is a hash of the names and per-resource versions: identical content gives an
identical version, so re-publishing unchanged resources sends nothing.

A snapshot keeps no protobuf messages, only bytes and the names each Listener and Cluster refers to,
which ``missing_references()`` checks. ``with_resources()`` derives a snapshot that changes one type and
shares every other type's ``TypeResources`` (and their encoded bytes) with its parent.
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, NamedTuple

from contour.envoy.translation_memo import Serialized
from contour.xds import typeurls, wire
from contour.xds.references import Reference, scanner

# DiscoveryResponse.resources and DeltaDiscoveryResponse.resources are both field 2; Any.type_url is
# field 1 and Any.value field 2; Resource.version is 1, Resource.resource 2, Resource.name 3.
_RESOURCES_FIELD = 2
_ANY_TYPE_URL = 1
_ANY_VALUE = 2
_DELTA_VERSION = 1
_DELTA_RESOURCE = 2
_DELTA_NAME = 3

_SELECTION_MEMO = 16

_BLANK_HASH = blake2b(digest_size=8)


def _short_hash(data: bytes) -> str:
    return blake2b(data, digest_size=8).hexdigest()


class Resource(NamedTuple):
    """One serialised resource (immutable).

    ``encoded`` is ``DiscoveryResponse.resources`` field framing + the Any; ``encoded[any_start:]`` is the
    Any itself. ``version`` is a hash of the serialised message. ``references`` are the RDS/EDS/SDS
    resources it needs (Listeners and Clusters only).
    """

    name: str
    version: str
    encoded: bytes
    any_start: int
    references: tuple[Reference, ...] = ()

    @classmethod
    def from_message(cls, type_url: str, message: Any) -> "Resource":
        """Serialise ``message`` once (deterministically) and frame it as an Any of ``type_url``."""
        return next(_framer(type_url).encode((message,)))

    def any_bytes(self) -> memoryview:
        """The serialised ``google.protobuf.Any``."""
        return memoryview(self.encoded)[self.any_start :]

    def delta_encoded(self) -> bytes:
        """This resource as one ``DeltaDiscoveryResponse.resources`` element (a ``Resource`` message)."""
        any_view = self.any_bytes()
        version = self.version.encode()
        name = self.name.encode()
        head = b"".join(
            (wire.header(_DELTA_VERSION, len(version)), version, wire.header(_DELTA_RESOURCE, len(any_view)))
        )
        tail = wire.header(_DELTA_NAME, len(name)) + name
        inner_length = len(head) + len(any_view) + len(tail)
        return b"".join((wire.header(_RESOURCES_FIELD, inner_length), head, any_view, tail))


class _Framer:
    """Turns the messages of one type into ``Resource``s.

    What does not depend on the resource is worked out once per type: the Any's type URL field and the
    tag of its value, the name getter, and whether the type can refer to other resources at all.
    """

    __slots__ = ("_any_head", "_message_class", "_name_of", "_scan", "type_url")

    def __init__(self, type_url: str) -> None:
        url = type_url.encode()
        self.type_url = type_url
        self._message_class = typeurls.MESSAGE_CLASSES[type_url]
        self._any_head = wire.header(_ANY_TYPE_URL, len(url)) + url + wire.tag(_ANY_VALUE)
        self._name_of = typeurls.namer(type_url)
        self._scan = scanner(type_url)

    def encode(self, messages: Iterable[Any], memo: "ResourceMemo | None" = None) -> Iterator[Resource]:
        """One ``Resource`` per message; ``ValueError`` for a message of another type.

        A ``Serialized`` is framed as it is (for types whose resources refer to nothing). With a
        ``memo``, a message object encoded by an earlier call is not encoded again.
        """
        expected, name_of, scan = self._message_class, self._name_of, self._scan
        new_resource, blank_hash = tuple.__new__, _BLANK_HASH
        # Everything before the serialised message depends only on its length, and the resources of
        # one type share a few lengths: built once per length (per call, so nothing outlives it).
        heads: dict[int, tuple[bytes, int]] = {}
        for message in messages:
            if memo is not None:
                known = memo.get(message)
                if known is not None:
                    yield known
                    continue
            if isinstance(message, Serialized):
                if scan is not None:
                    raise ValueError(f"{self.type_url} resources must be messages: they refer to others")
                value, name = message.data, message.name
            elif isinstance(message, expected):
                value, name = message.SerializeToString(deterministic=True), name_of(message)
            else:
                raise ValueError(f"{type(message).__name__} given for {self.type_url}")
            head = heads.get(len(value))
            if head is None:
                head = heads[len(value)] = self._head(len(value))
            digest = blank_hash.copy()  # cheaper than a new blake2b(value, digest_size=8), same digest
            digest.update(value)
            # Resource's fields, in order, without its generated Python __new__.
            resource = new_resource(
                Resource,
                (
                    name,
                    digest.hexdigest(),
                    head[0] + value,
                    head[1],
                    scan(message) if scan is not None else (),
                ),
            )
            if memo is not None and not isinstance(message, Serialized):
                memo.put(message, resource)  # a Serialized is made afresh every time: never found again
            yield resource

    def _head(self, value_length: int) -> tuple[bytes, int]:
        """The bytes before a serialised message of ``value_length`` bytes, and where the Any starts."""
        any_head = self._any_head + wire.varint(value_length)
        framing = wire.header(_RESOURCES_FIELD, len(any_head) + value_length)
        return framing + any_head, len(framing)


_FRAMERS: dict[str, _Framer] = {t: _Framer(t) for t in typeurls.MESSAGE_CLASSES}


def _framer(type_url: str) -> _Framer:
    framer = _FRAMERS.get(type_url)
    if framer is None:
        raise ValueError(f"unknown xDS type URL {type_url!r}")
    return framer


class ResourceMemo:
    """Resources by the identity of the message they were encoded from, for one publisher.

    Translators that reuse unchanged message objects (``contour.envoy.translation_memo``) then get
    them framed once. ``Snapshot.build`` calls ``end()``: only what that build used is kept.
    """

    __slots__ = ("_current", "_next", "_types")

    def __init__(self) -> None:
        self._current: dict[int, tuple[Any, Resource]] = {}
        self._next: dict[int, tuple[Any, Resource]] = {}
        # Per type, the resources of the last build and the TypeResources made of them.
        self._types: dict[str, tuple[list[Resource], TypeResources]] = {}

    def same_type(self, type_url: str, resources: list[Resource]) -> "TypeResources | None":
        """The last build's TypeResources of ``type_url`` if it was made of exactly these resources."""
        last = self._types.get(type_url)
        if last is None or len(last[0]) != len(resources):
            return None
        for old, new in zip(last[0], resources, strict=True):
            if old is not new:
                return None
        return last[1]

    def remember_type(self, type_url: str, resources: list[Resource], built: "TypeResources") -> None:
        self._types[type_url] = (resources, built)

    def get(self, message: Any) -> Resource | None:
        found = self._current.get(id(message))
        if found is None or found[0] is not message:
            return None
        self._next[id(message)] = found
        return found[1]

    def put(self, message: Any, resource: Resource) -> None:
        self._next[id(message)] = (message, resource)  # the message is kept so its id is not reused

    def end(self) -> None:
        self._current, self._next = self._next, {}


@dataclass(frozen=True, slots=True)
class Selection:
    """The resources a SotW subscription gets: names sent, a fingerprint of them, the encoded body."""

    names: tuple[str, ...]
    fingerprint: str
    body: bytes


class TypeResources:
    """Every resource of one type in a snapshot, keyed by name, with the type's content version.

    Shared by every stream (and by derived snapshots when the type did not change). Joined bodies and
    delta encodings are computed on first use and memoised here, so N streams pay for them once.
    """

    __slots__ = ("_delta", "_selections", "resources", "type_url", "version")

    def __init__(self, type_url: str, resources: Mapping[str, Resource]) -> None:
        self.type_url = type_url
        self.resources: Mapping[str, Resource] = {name: resources[name] for name in sorted(resources)}
        self.version = _short_hash(
            "\n".join([f"{name}\0{r.version}" for name, r in self.resources.items()]).encode()
        )
        self._selections: dict[frozenset[str] | None, Selection] = {}
        self._delta: dict[str, bytes] = {}

    def select(self, names: frozenset[str] | None) -> Selection:
        """The resources a SotW request for ``names`` gets (``None``: wildcard, every resource).

        Names that do not exist are left out. The fingerprint is the type version for a wildcard, else
        a hash of the selected names and versions, so an unrelated change sends nothing.
        """
        memo = self._selections.get(names)
        if memo is not None:
            return memo
        if names is None:
            chosen = list(self.resources.values())
            fingerprint = self.version
        else:
            chosen = [self.resources[n] for n in sorted(names) if n in self.resources]
            fingerprint = _short_hash("\n".join(f"{r.name}\0{r.version}" for r in chosen).encode())
        selection = Selection(
            names=tuple(r.name for r in chosen),
            fingerprint=fingerprint,
            body=b"".join(r.encoded for r in chosen),
        )
        if len(self._selections) >= _SELECTION_MEMO:
            self._selections.pop(next(iter(self._selections)))
        self._selections[names] = selection
        return selection

    def delta_encoded(self, name: str) -> bytes:
        """The named resource framed as a delta ``Resource`` element, memoised."""
        encoded = self._delta.get(name)
        if encoded is None:
            encoded = self.resources[name].delta_encoded()
            self._delta[name] = encoded
        return encoded


# One shared empty set per type, so a stream sees the same object while a type stays absent.
_EMPTY: dict[str, TypeResources] = {t: TypeResources(t, {}) for t in typeurls.MESSAGE_CLASSES}


class Snapshot:
    """A version string plus, per type URL, the resources of that type. Immutable once built."""

    __slots__ = ("types", "version")

    def __init__(self, version: str, types: Mapping[str, TypeResources]) -> None:
        self.version = version
        self.types: Mapping[str, TypeResources] = dict(types)

    @classmethod
    def build(
        cls, version: str, resources: Mapping[str, Iterable[Any]], memo: ResourceMemo | None = None
    ) -> "Snapshot":
        """Serialise protobuf messages (or take ``Serialized`` ones) grouped by type URL into a snapshot.

        Raises ``ValueError`` for an unknown type URL, a message of another type, or a duplicate name:
        those are bugs in the caller, not user input.
        """
        types: dict[str, TypeResources] = {}
        for type_url, messages in resources.items():
            encoded = list(_framer(type_url).encode(messages, memo))
            same = memo.same_type(type_url, encoded) if memo is not None else None
            if same is not None:
                types[type_url] = same  # every resource is the last build's: so is the whole type
                continue
            by_name: dict[str, Resource] = {}
            for resource in encoded:
                if resource.name in by_name:
                    raise ValueError(f"duplicate {typeurls.SHORT_NAMES[type_url]} resource {resource.name!r}")
                by_name[resource.name] = resource
            types[type_url] = TypeResources(type_url, by_name)
            if memo is not None:
                memo.remember_type(type_url, encoded, types[type_url])
        if memo is not None:
            memo.end()
        return cls(version, types)

    def of_type(self, type_url: str) -> TypeResources:
        """The resources of one type (an empty set for a type the snapshot does not have)."""
        found = self.types.get(type_url)
        if found is None:
            found = _EMPTY.get(type_url) or TypeResources(type_url, {})
        return found

    def type_version(self, type_url: str) -> str:
        """The SotW ``version_info`` of one type."""
        return self.of_type(type_url).version

    def missing_references(self) -> list[Reference]:
        """Every RDS, EDS and SDS resource a Listener or Cluster refers to that this snapshot lacks.

        Sorted and without duplicates; empty when the snapshot is consistent. The caller decides what to
        do (publish anyway, or keep the previous snapshot).
        """
        missing: set[Reference] = set()
        for type_url in (typeurls.LISTENER, typeurls.CLUSTER):
            for resource in self.of_type(type_url).resources.values():
                for ref in resource.references:
                    if ref.name not in self.of_type(ref.type_url).resources:
                        missing.add(ref)
        return sorted(missing)

    def with_resources(
        self, version: str, type_url: str, upserts: Iterable[Any] = (), removals: Iterable[str] = ()
    ) -> "Snapshot":
        """A new snapshot where one type has ``upserts`` added or replaced and ``removals`` deleted.

        Every other type's ``TypeResources`` is shared with this snapshot, not rebuilt.
        """
        framer = _framer(type_url)
        resources = dict(self.of_type(type_url).resources)
        for name in removals:
            resources.pop(name, None)
        for resource in framer.encode(upserts):
            resources[resource.name] = resource
        types = dict(self.types)
        types[type_url] = TypeResources(type_url, resources)
        return Snapshot(version, types)
