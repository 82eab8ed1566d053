"""The columns `kubectl get` shows for the built-in kinds, computed as kube-apiserver's printers do.

Each printer turns one object (a JSON mapping, possibly missing defaulted fields) into the cells of one
Table row; columns with priority 1 appear only with `-o wide`. Kinds the real server prints with its
default table convertor (Role, ClusterRole, CustomResourceDefinition) get NAME and CREATED AT. Column
names, types, priorities and cell formats follow Kubernetes' `pkg/printers/internalversion`; long
descriptions of individual fields are shortened (kubectl does not print them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contour.apiserver.humanduration import age, human_duration, parse_timestamp, rfc3339

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some "
    "resources may allow a client to request the generation of an appropriate name automatically. Name "
    "is primarily intended for creation idempotence and configuration definition. Cannot be updated. "
    "More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATION_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is "
    "not guaranteed to be set in happens-before order across separate operations. Clients may not set "
    "this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. "
    "Null for lists. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
CONTAINERS = "Names of each container in the template."
IMAGES = "Images referenced by each container in the template."


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME = Column("Name", format="name", description=NAME_DESCRIPTION)
AGE = Column("Age", description=CREATION_DESCRIPTION)


@dataclass(frozen=True)
class Row:
    cells: list[Any]
    conditions: list[dict[str, str]] | None = None


Printer = Callable[[Mapping[str, Any], datetime], Row]


def _at(obj: Any, *path: str | int) -> Any:
    """obj[path...], or None as soon as a step is missing or of the wrong shape."""
    for step in path:
        if isinstance(step, int):
            obj = obj[step] if isinstance(obj, list) and -len(obj) <= step < len(obj) else None
        else:
            obj = obj.get(step) if isinstance(obj, Mapping) else None
        if obj is None:
            return None
    return obj


def _list(obj: Any, *path: str) -> list[Any]:
    value = _at(obj, *path)
    return value if isinstance(value, list) else []


def _map(obj: Any, *path: str) -> Mapping[str, Any]:
    value = _at(obj, *path)
    return value if isinstance(value, Mapping) else {}


def _str(obj: Any, *path: str) -> str:
    value = _at(obj, *path)
    return value if isinstance(value, str) else ""


def _int(obj: Any, *path: str) -> int:
    value = _at(obj, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _name(obj: Mapping[str, Any]) -> str:
    return _str(obj, "metadata", "name")


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    return age(_at(obj, "metadata", "creationTimestamp"), now)


def format_labels(labels: Mapping[str, Any]) -> str:
    """`labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty."""
    text = ",".join(f"{key}={labels[key]}" for key in sorted(labels))
    return text or "<none>"


def selector_string(selector: Any) -> str:
    """`LabelSelectorAsSelector(s).String()`: requirements sorted by key; "" for nil or empty selectors."""
    if not isinstance(selector, Mapping):
        return ""
    requirements: list[tuple[str, str]] = []
    for key, value in _map(selector, "matchLabels").items():
        requirements.append((key, f"{key}={value}"))
    for expression in _list(selector, "matchExpressions"):
        key = _str(expression, "key")
        values = ",".join(sorted(str(v) for v in _list(expression, "values")))
        operator = _str(expression, "operator")
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(operator, f"{key} {operator.lower()} ({values})")
        requirements.append((key, text))
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0]))


def format_label_selector(selector: Any) -> str:
    """`metav1.FormatLabelSelector`: like `selector_string`, `<none>` when empty."""
    return selector_string(selector) or "<none>"


def _containers(obj: Mapping[str, Any], *path: str) -> tuple[str, str]:
    containers = _list(obj, *path)
    names = ",".join(_str(c, "name") for c in containers)
    images = ",".join(_str(c, "image") for c in containers)
    return names, images


def _load_balancer(status: Any) -> str:
    seen: list[str] = []
    for ingress in _list(status, "ingress"):
        address = _str(ingress, "ip") or _str(ingress, "hostname")
        if address and address not in seen:
            seen.append(address)
    return ",".join(seen)


def _more(items: list[str], count: int, maximum: int = 3, *, empty: str = "<unset>") -> str:
    text = ",".join(items[:maximum])
    if count > maximum:
        return f"{text} + {count - maximum} more..."
    return text or empty


def print_namespace(obj: Mapping[str, Any], now: datetime) -> Row:
    return Row([_name(obj), _str(obj, "status", "phase"), _age(obj, now)])


def _service_external_ip(obj: Mapping[str, Any], kind: str) -> str:
    external = [str(ip) for ip in _list(obj, "spec", "externalIPs")]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        balancer = _load_balancer(_at(obj, "status", "loadBalancer"))
        if external:
            return ",".join(([*balancer.split(",")] if balancer else []) + external)
        return balancer or "<pending>"
    if kind == "ExternalName":
        return _str(obj, "spec", "externalName")
    return "<unknown>"


def print_service(obj: Mapping[str, Any], now: datetime) -> Row:
    kind = _str(obj, "spec", "type") or "ClusterIP"
    cluster_ips = _list(obj, "spec", "clusterIPs")
    internal = str(cluster_ips[0]) if cluster_ips else (_str(obj, "spec", "clusterIP") or "<none>")
    ports = []
    for port in _list(obj, "spec", "ports"):
        protocol = _str(port, "protocol") or "TCP"
        node_port = _int(port, "nodePort")
        number = _int(port, "port")
        ports.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return Row(
        [
            _name(obj),
            kind,
            internal,
            _service_external_ip(obj, kind),
            ",".join(ports) or "<none>",
            _age(obj, now),
            format_labels(_map(obj, "spec", "selector")),
        ]
    )


def print_endpoints(obj: Mapping[str, Any], now: datetime) -> Row:
    shown: list[str] = []
    count = 0
    for subset in _list(obj, "subsets"):
        addresses = [_str(a, "ip") for a in _list(subset, "addresses")]
        ports = _list(subset, "ports")
        if not ports:
            count += len(addresses)
            shown.extend(addresses)
            continue
        for port in ports:
            count += len(addresses)
            number = _int(port, "port")
            shown.extend(f"[{ip}]:{number}" if ":" in ip else f"{ip}:{number}" for ip in addresses)
    if not _list(obj, "subsets"):
        return Row([_name(obj), "<none>", _age(obj, now)])
    return Row([_name(obj), _more(shown, count, empty=""), _age(obj, now)])


def print_secret(obj: Mapping[str, Any], now: datetime) -> Row:
    return Row([_name(obj), _str(obj, "type"), len(_map(obj, "data")), _age(obj, now)])


def print_config_map(obj: Mapping[str, Any], now: datetime) -> Row:
    return Row([_name(obj), len(_map(obj, "data")) + len(_map(obj, "binaryData")), _age(obj, now)])


def print_service_account(obj: Mapping[str, Any], now: datetime) -> Row:
    return Row([_name(obj), len(_list(obj, "secrets")), _age(obj, now)])


def print_event(obj: Mapping[str, Any], now: datetime) -> Row:
    first = age(_at(obj, "firstTimestamp"), now)
    if parse_or_none(_at(obj, "firstTimestamp")) is None:
        first = age(_at(obj, "eventTime"), now)
    last = age(_at(obj, "lastTimestamp"), now)
    if parse_or_none(_at(obj, "lastTimestamp")) is None:
        last = first
    count = _int(obj, "count")
    if isinstance(_at(obj, "series"), Mapping):
        last = age(_at(obj, "series", "lastObservedTime"), now)
        count = _int(obj, "series", "count")
    elif count == 0:
        count = 1
    kind, name = _str(obj, "involvedObject", "kind").lower(), _str(obj, "involvedObject", "name")
    component = _str(obj, "source", "component") or _str(obj, "reportingController")
    host = _str(obj, "source", "host") or _str(obj, "reportingInstance")
    return Row(
        [
            last,
            _str(obj, "type"),
            _str(obj, "reason"),
            f"{kind}/{name}" if name else kind,
            _str(obj, "involvedObject", "fieldPath"),
            f"{component}, {host}" if host else component,
            _str(obj, "message").strip(),
            first,
            count,
            _name(obj),
        ]
    )


def parse_or_none(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


_POD_SUCCEEDED = [
    {
        "type": "Completed",
        "status": "True",
        "reason": "Succeeded",
        "message": "The pod has completed successfully.",
    }
]
_POD_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def _terminated_at(status: Any) -> datetime | None:
    return parse_or_none(_at(status, "lastState", "terminated", "finishedAt"))


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def print_pod(obj: Mapping[str, Any], now: datetime) -> Row:
    spec_init = {_str(c, "name"): c for c in _list(obj, "spec", "initContainers")}

    def restartable(name: str) -> bool:
        return _str(spec_init.get(name), "restartPolicy") == "Always"

    total = len(_list(obj, "spec", "containers")) + sum(1 for n in spec_init if restartable(n))
    phase = _str(obj, "status", "phase")
    reason = _str(obj, "status", "reason") or phase
    conditions = _list(obj, "status", "conditions")
    if any(_str(c, "type") == "PodScheduled" and _str(c, "reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"
    row_conditions = _POD_SUCCEEDED if phase == "Succeeded" else _POD_FAILED if phase == "Failed" else None

    restarts = sidecar_restarts = ready = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None
    initializing = False
    init_statuses = _list(obj, "status", "initContainerStatuses")
    for index, status in enumerate(init_statuses):
        name = _str(status, "name")
        restarts += _int(status, "restartCount")
        last_restart = _later(last_restart, _terminated_at(status))
        if restartable(name):
            sidecar_restarts += _int(status, "restartCount")
            last_sidecar_restart = _later(last_sidecar_restart, _terminated_at(status))
        terminated = _at(status, "state", "terminated")
        waiting_reason = _str(status, "state", "waiting", "reason")
        if isinstance(terminated, Mapping) and _int(terminated, "exitCode") == 0:
            continue
        if restartable(name) and _at(status, "started") is True:
            ready += 1 if _at(status, "ready") is True else 0
            continue
        if isinstance(terminated, Mapping):
            if _str(terminated, "reason"):
                reason = "Init:" + _str(terminated, "reason")
            elif _int(terminated, "signal"):
                reason = f"Init:Signal:{_int(terminated, 'signal')}"
            else:
                reason = f"Init:ExitCode:{_int(terminated, 'exitCode')}"
        elif waiting_reason and waiting_reason != "PodInitializing":
            reason = "Init:" + waiting_reason
        else:
            reason = f"Init:{index}/{len(spec_init)}"
        initializing = True
        break

    initialized = any(_str(c, "type") == "Initialized" and _str(c, "status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for status in reversed(_list(obj, "status", "containerStatuses")):
            restarts += _int(status, "restartCount")
            last_restart = _later(last_restart, _terminated_at(status))
            terminated = _at(status, "state", "terminated")
            if _str(status, "state", "waiting", "reason"):
                reason = _str(status, "state", "waiting", "reason")
            elif isinstance(terminated, Mapping) and _str(terminated, "reason"):
                reason = _str(terminated, "reason")
            elif isinstance(terminated, Mapping):
                signal = _int(terminated, "signal")
                reason = f"Signal:{signal}" if signal else f"ExitCode:{_int(terminated, 'exitCode')}"
            elif _at(status, "ready") is True and isinstance(_at(status, "state", "running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(_str(c, "type") == "Ready" and _str(c, "status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"

    if parse_or_none(_at(obj, "metadata", "deletionTimestamp")) is not None:
        if _str(obj, "status", "reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Failed", "Succeeded"):
            reason = "Terminating"

    restart_text = str(restarts)
    if restarts and last_restart is not None:
        restart_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    pod_ips = _list(obj, "status", "podIPs")
    gates = _list(obj, "spec", "readinessGates")
    gate_text = "<none>"
    if gates:
        passed = 0
        for gate in gates:
            wanted = _str(gate, "conditionType")
            match = next((c for c in conditions if _str(c, "type") == wanted), None)
            passed += 1 if match is not None and _str(match, "status") == "True" else 0
        gate_text = f"{passed}/{len(gates)}"
    return Row(
        [
            _name(obj),
            f"{ready}/{total}",
            reason,
            restart_text,
            _age(obj, now),
            _str(pod_ips[0], "ip") if pod_ips and _str(pod_ips[0], "ip") else "<none>",
            _str(obj, "spec", "nodeName") or "<none>",
            _str(obj, "status", "nominatedNodeName") or "<none>",
            gate_text,
        ],
        row_conditions,
    )


def print_endpoint_slice(obj: Mapping[str, Any], now: datetime) -> Row:
    ports = _list(obj, "ports")
    port_names = []
    for port in ports:
        number = _at(port, "port")
        port_names.append(str(number) if isinstance(number, int) else (_str(port, "name") or "*"))
    addresses = [str(a) for e in _list(obj, "endpoints") for a in _list(e, "addresses")]
    return Row(
        [
            _name(obj),
            _str(obj, "addressType"),
            _more(port_names, len(port_names)),
            _more(addresses, len(addresses)),
            _age(obj, now),
        ]
    )


def print_deployment(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(obj, "spec", "template", "spec", "containers")
    return Row(
        [
            _name(obj),
            f"{_int(obj, 'status', 'readyReplicas')}/{_int(obj, 'spec', 'replicas')}",
            _int(obj, "status", "updatedReplicas"),
            _int(obj, "status", "availableReplicas"),
            _age(obj, now),
            names,
            images,
            selector_string(_at(obj, "spec", "selector")),
        ]
    )


def print_replica_set(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(obj, "spec", "template", "spec", "containers")
    return Row(
        [
            _name(obj),
            _int(obj, "spec", "replicas"),
            _int(obj, "status", "replicas"),
            _int(obj, "status", "readyReplicas"),
            _age(obj, now),
            names,
            images,
            format_label_selector(_at(obj, "spec", "selector")),
        ]
    )


def print_stateful_set(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(obj, "spec", "template", "spec", "containers")
    ready = f"{_int(obj, 'status', 'readyReplicas')}/{_int(obj, 'spec', 'replicas')}"
    return Row([_name(obj), ready, _age(obj, now), names, images])


def print_scale(obj: Mapping[str, Any], now: datetime) -> Row:
    return Row([_name(obj), _int(obj, "spec", "replicas"), _int(obj, "status", "replicas")])


def print_daemon_set(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(obj, "spec", "template", "spec", "containers")
    return Row(
        [
            _name(obj),
            _int(obj, "status", "desiredNumberScheduled"),
            _int(obj, "status", "currentNumberScheduled"),
            _int(obj, "status", "numberReady"),
            _int(obj, "status", "updatedNumberScheduled"),
            _int(obj, "status", "numberAvailable"),
            format_labels(_map(obj, "spec", "template", "spec", "nodeSelector")),
            _age(obj, now),
            names,
            images,
            format_label_selector(_at(obj, "spec", "selector")),
        ]
    )


def print_ingress(obj: Mapping[str, Any], now: datetime) -> Row:
    rules = _list(obj, "spec", "rules")
    hosts: list[str] = []
    more = False
    for rule in rules:
        more = more or len(hosts) == 3
        if not more and _str(rule, "host"):
            hosts.append(_str(rule, "host"))
    host_text = ",".join(hosts) or "*"
    if more and hosts:
        host_text = f"{host_text} + {len(rules) - 3} more..."
    return Row(
        [
            _name(obj),
            _str(obj, "spec", "ingressClassName") or "<none>",
            host_text,
            _load_balancer(_at(obj, "status", "loadBalancer")),
            "80, 443" if _list(obj, "spec", "tls") else "80",
            _age(obj, now),
        ]
    )


def print_ingress_class(obj: Mapping[str, Any], now: datetime) -> Row:
    parameters = _at(obj, "spec", "parameters")
    text = "<none>"
    if isinstance(parameters, Mapping):
        text = _str(parameters, "kind")
        if isinstance(parameters.get("apiGroup"), str):
            text += "." + parameters["apiGroup"]
        text += "/" + _str(parameters, "name")
    return Row([_name(obj), _str(obj, "spec", "controller"), text, _age(obj, now)])


def _subjects(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in _list(obj, "subjects"):
        kind, name = _str(subject, "kind"), _str(subject, "name")
        if kind == "ServiceAccount":
            accounts.append(f"{_str(subject, 'namespace')}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return ", ".join(users), ", ".join(groups), ", ".join(accounts)


def print_role_binding(obj: Mapping[str, Any], now: datetime) -> Row:
    role = f"{_str(obj, 'roleRef', 'kind')}/{_str(obj, 'roleRef', 'name')}"
    return Row([_name(obj), role, _age(obj, now), *_subjects(obj)])


def print_lease(obj: Mapping[str, Any], now: datetime) -> Row:
    return Row([_name(obj), _str(obj, "spec", "holderIdentity"), _age(obj, now)])


def print_default(obj: Mapping[str, Any], now: datetime) -> Row:
    """The default table convertor's row: the name and the creation time in RFC 3339 (UTC)."""
    return Row([_name(obj), rfc3339(_at(obj, "metadata", "creationTimestamp"))])


DEFAULT_COLUMNS = (NAME, Column("Created At", type="date", description=CREATION_DESCRIPTION))


def _wide(*columns: Column) -> tuple[Column, ...]:
    return tuple(Column(c.name, c.type, c.description, 1, c.format) for c in columns)


_BINDING_COLUMNS = (
    NAME,
    Column("Role", description="RoleRef can only reference the current namespace's or a cluster's role."),
    AGE,
    *_wide(
        Column("Users", description="Users in the roleBinding"),
        Column("Groups", description="Groups in the roleBinding"),
        Column("ServiceAccounts", description="ServiceAccounts in the roleBinding"),
    ),
)

BUILTIN_PRINTERS: dict[tuple[str, str], tuple[tuple[Column, ...], Printer]] = {
    ("", "Namespace"): (
        (NAME, Column("Status", description="The status of the namespace"), AGE),
        print_namespace,
    ),
    ("", "Service"): (
        (
            NAME,
            Column("Type", description="How the Service is exposed."),
            Column("Cluster-IP", description="The IP address of the service."),
            Column("External-IP", description="External IP addresses of the service."),
            Column("Port(s)", description="The ports exposed by this service."),
            AGE,
            *_wide(Column("Selector", description="Route service traffic to pods with these labels.")),
        ),
        print_service,
    ),
    ("", "Endpoints"): (
        (NAME, Column("Endpoints", description="The set of all endpoints."), AGE),
        print_endpoints,
    ),
    ("", "Secret"): (
        (
            NAME,
            Column("Type", description="Used to facilitate programmatic handling of secret data."),
            Column("Data", description="The secret's data."),
            AGE,
        ),
        print_secret,
    ),
    ("", "ConfigMap"): ((NAME, Column("Data", description="The configuration data."), AGE), print_config_map),
    ("", "ServiceAccount"): (
        (NAME, Column("Secrets", description="Secrets pods running as this account may use."), AGE),
        print_service_account,
    ),
    ("", "Event"): (
        (
            Column("Last Seen", description="The time at which the most recent occurrence was recorded."),
            Column("Type", description="Type of this event (Normal, Warning)."),
            Column("Reason", description="Short, machine understandable cause of the event."),
            Column("Object", description="The object that this event is about."),
            *_wide(
                Column("Subobject", description="The field of the object the event is about."),
                Column("Source", description="The component reporting this event."),
            ),
            Column("Message", description="A human-readable description of the status of this operation."),
            *_wide(
                Column("First Seen", description="The time at which the event was first recorded."),
                Column("Count", description="The number of times this event has occurred."),
                Column("Name", format="name", description=NAME_DESCRIPTION),
            ),
        ),
        print_event,
    ),
    ("", "Pod"): (
        (
            NAME,
            Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
            Column("Status", description="The aggregate status of the containers in this pod."),
            Column(
                "Restarts",
                description="The number of times the containers in this pod have been restarted and when "
                "the last container in this pod has restarted.",
            ),
            AGE,
            *_wide(
                Column("IP", description="IP address allocated to the pod."),
                Column("Node", description="The node the pod is scheduled onto."),
                Column("Nominated Node", description="The node the pod is nominated to run on."),
                Column("Readiness Gates", description="Conditions evaluated for pod readiness."),
            ),
        ),
        print_pod,
    ),
    ("discovery.k8s.io", "EndpointSlice"): (
        (
            NAME,
            Column("AddressType", description="The type of address carried by this EndpointSlice."),
            Column("Ports", description="The network ports exposed by each endpoint in this slice."),
            Column("Endpoints", description="The unique endpoints in this slice."),
            AGE,
        ),
        print_endpoint_slice,
    ),
    ("apps", "Deployment"): (
        (
            NAME,
            Column("Ready", description="Number of the pod with ready state"),
            Column(
                "Up-to-date", description="Total number of non-terminating pods with the desired template."
            ),
            Column("Available", description="Total number of available non-terminating pods."),
            AGE,
            *_wide(
                Column("Containers", description=CONTAINERS),
                Column("Images", description=IMAGES),
                Column("Selector", description="Label selector for pods."),
            ),
        ),
        print_deployment,
    ),
    ("apps", "ReplicaSet"): (
        (
            NAME,
            Column("Desired", type="integer", description="Replicas is the number of desired pods."),
            Column("Current", type="integer", description="Replicas is the most recently observed number."),
            Column("Ready", type="integer", description="The number of ready replicas for this replica set."),
            AGE,
            *_wide(
                Column("Containers", description=CONTAINERS),
                Column("Images", description=IMAGES),
                Column("Selector", description="Selector is a label query over pods."),
            ),
        ),
        print_replica_set,
    ),
    ("apps", "StatefulSet"): (
        (
            NAME,
            Column("Ready", description="Number of the pod with ready state"),
            AGE,
            *_wide(Column("Containers", description=CONTAINERS), Column("Images", description=IMAGES)),
        ),
        print_stateful_set,
    ),
    ("autoscaling", "Scale"): (
        (
            NAME,
            Column(
                "Desired", type="integer", description="desired number of instances for the scaled object."
            ),
            Column("Available", type="integer", description="actual number of observed instances."),
        ),
        print_scale,
    ),
    ("apps", "DaemonSet"): (
        (
            NAME,
            Column("Desired", type="integer", description="The number of nodes that should run the pod."),
            Column("Current", type="integer", description="The number of nodes running at least one pod."),
            Column("Ready", type="integer", description="The number of nodes with a ready pod."),
            Column("Up-to-date", type="integer", description="The number of nodes running the updated pod."),
            Column("Available", type="integer", description="The number of nodes with an available pod."),
            Column("Node Selector", description="Nodes the pod must fit."),
            AGE,
            *_wide(
                Column("Containers", description=CONTAINERS),
                Column("Images", description=IMAGES),
                Column("Selector", description="A label query over pods that are managed by the daemon set."),
            ),
        ),
        print_daemon_set,
    ),
    ("networking.k8s.io", "Ingress"): (
        (
            NAME,
            Column(
                "Class",
                description="The name of the IngressClass resource that should be used for additional "
                "configuration",
            ),
            Column(
                "Hosts",
                description="Hosts that incoming requests are matched against before the ingress rule",
            ),
            Column(
                "Address", description="Address is a list containing ingress points for the load-balancer"
            ),
            Column("Ports", description="Ports of TLS configurations that open"),
            AGE,
        ),
        print_ingress,
    ),
    ("networking.k8s.io", "IngressClass"): (
        (
            NAME,
            Column("Controller", description="Controller that is responsible for handling this class"),
            Column("Parameters", description="A reference to a resource with additional parameters"),
            AGE,
        ),
        print_ingress_class,
    ),
    ("rbac.authorization.k8s.io", "RoleBinding"): (_BINDING_COLUMNS, print_role_binding),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): (
        tuple(
            Column(
                c.name,
                c.type,
                c.description.replace("roleBinding", "clusterRoleBinding"),
                c.priority,
                c.format,
            )
            for c in _BINDING_COLUMNS
        ),
        print_role_binding,
    ),
    ("coordination.k8s.io", "Lease"): (
        (NAME, Column("Holder", description="The identity of the holder of a current lease."), AGE),
        print_lease,
    ),
}


def printer_for(group: str, kind: str) -> tuple[tuple[Column, ...], Printer]:
    """The columns and row printer of a built-in kind; NAME and CREATED AT for kinds without a printer."""
    return BUILTIN_PRINTERS.get((group, kind), (DEFAULT_COLUMNS, print_default))
