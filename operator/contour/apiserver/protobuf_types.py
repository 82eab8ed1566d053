"""The protobuf message tables of the Kubernetes kinds kubectl sends as protobuf, by field number.

kubectl's typed-client commands (`kubectl create namespace|configmap|secret|serviceaccount|service|
deployment|ingress|role|rolebinding|clusterrole|clusterrolebinding`) encode their bodies with the
`generated.proto` messages of k8s.io/api and k8s.io/apimachinery. Each table maps a field number to the
JSON name of the same Go struct field, its scalar kind or nested message, and how Go's JSON encoder
writes it when empty (see `Presence`). Field numbers are read from the generated.proto files (core/v1,
apps/v1, networking/v1, rbac/v1, meta/v1, runtime, util/intstr); the JSON side follows the Go struct
tags and is checked, for every field those commands fill, against the JSON kubectl prints for the same
object. Only those fields and their close neighbours are listed: the decoder skips any other field
number, as every protobuf reader does, so a field missing here is dropped, never misread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    STRING = "string"
    BYTES = "bytes"  # JSON: standard base64, as Go's encoding/json writes []byte
    INT32 = "int32"
    INT64 = "int64"
    BOOL = "bool"
    MESSAGE = "message"
    INT_OR_STRING = "int-or-string"  # intstr.IntOrString {type=1, intVal=2, strVal=3}: a number or a string
    QUANTITY = "quantity"  # resource.Quantity {string=1}: its canonical string
    TIME = "time"  # meta/v1 Time {seconds=1, nanos=2}: RFC 3339 in UTC, zero is null
    STRING_MAP = "map<string,string>"
    BYTES_MAP = "map<string,bytes>"
    QUANTITY_MAP = "map<string,Quantity>"


class Presence(Enum):
    """How a Go field shows up in JSON, given that the gogo encoder always writes non-pointer fields.

    OMIT: a non-pointer `omitempty` field; zero values ("", 0, false, empty list or map) are left out.
    POINTER: a pointer (`*int32`, `*bool`, `*string`, `*Struct`): written, even when zero, if present.
    ALWAYS: no `omitempty`: a zero value is written, and an absent field is written as its zero value.
    OMITZERO: a struct with `omitzero` (ObjectMeta.creationTimestamp): left out when zero.
    """

    OMIT = "omit"
    POINTER = "pointer"
    ALWAYS = "always"
    OMITZERO = "omitzero"


@dataclass(frozen=True)
class Field:
    json: str
    kind: Kind
    message: str = ""  # the nested message table, for Kind.MESSAGE
    repeated: bool = False
    presence: Presence = Presence.OMIT
    inline: bool = False  # an embedded Go struct (`json:",inline"`): its fields join the parent object


Message = dict[int, Field]

OMIT, POINTER, ALWAYS, OMITZERO = Presence.OMIT, Presence.POINTER, Presence.ALWAYS, Presence.OMITZERO


def string(json: str, presence: Presence = OMIT) -> Field:
    return Field(json, Kind.STRING, presence=presence)


def strings(json: str, presence: Presence = OMIT) -> Field:
    return Field(json, Kind.STRING, repeated=True, presence=presence)


def int32(json: str, presence: Presence = OMIT) -> Field:
    return Field(json, Kind.INT32, presence=presence)


def int64(json: str, presence: Presence = OMIT) -> Field:
    return Field(json, Kind.INT64, presence=presence)


def boolean(json: str, presence: Presence = OMIT) -> Field:
    return Field(json, Kind.BOOL, presence=presence)


def message(json: str, name: str, presence: Presence = OMIT) -> Field:
    return Field(json, Kind.MESSAGE, message=name, presence=presence)


def messages(json: str, name: str, presence: Presence = OMIT) -> Field:
    return Field(json, Kind.MESSAGE, message=name, repeated=True, presence=presence)


def labels(json: str) -> Field:
    return Field(json, Kind.STRING_MAP)


def time(json: str, presence: Presence = POINTER) -> Field:
    return Field(json, Kind.TIME, presence=presence)


# k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto
META: dict[str, Message] = {
    "ObjectMeta": {
        1: string("name"),
        2: string("generateName"),
        3: string("namespace"),
        4: string("selfLink"),
        5: string("uid"),
        6: string("resourceVersion"),
        7: int64("generation"),
        8: time("creationTimestamp", OMITZERO),
        9: time("deletionTimestamp", POINTER),
        10: int64("deletionGracePeriodSeconds", POINTER),
        11: labels("labels"),
        12: labels("annotations"),
        13: messages("ownerReferences", "OwnerReference"),
        14: strings("finalizers"),
    },
    "OwnerReference": {
        5: string("apiVersion", ALWAYS),
        1: string("kind", ALWAYS),
        3: string("name", ALWAYS),
        4: string("uid", ALWAYS),
        6: boolean("controller", POINTER),
        7: boolean("blockOwnerDeletion", POINTER),
    },
    "LabelSelector": {
        1: labels("matchLabels"),
        2: messages("matchExpressions", "LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {
        1: string("key", ALWAYS),
        2: string("operator", ALWAYS),
        3: strings("values"),
    },
}

# k8s.io/api/core/v1/generated.proto
CORE: dict[str, Message] = {
    "Namespace": {
        1: message("metadata", "ObjectMeta"),
        2: message("spec", "NamespaceSpec"),
        3: message("status", "NamespaceStatus"),
    },
    "NamespaceSpec": {1: strings("finalizers")},
    "NamespaceStatus": {1: string("phase")},
    "ConfigMap": {
        1: message("metadata", "ObjectMeta"),
        4: boolean("immutable", POINTER),
        2: labels("data"),
        3: Field("binaryData", Kind.BYTES_MAP),
    },
    "Secret": {
        1: message("metadata", "ObjectMeta"),
        5: boolean("immutable", POINTER),
        2: Field("data", Kind.BYTES_MAP),
        4: labels("stringData"),
        3: string("type"),
    },
    "ServiceAccount": {
        1: message("metadata", "ObjectMeta"),
        2: messages("secrets", "ObjectReference"),
        3: messages("imagePullSecrets", "LocalObjectReference"),
        4: boolean("automountServiceAccountToken", POINTER),
    },
    "ObjectReference": {
        1: string("kind"),
        2: string("namespace"),
        3: string("name"),
        4: string("uid"),
        5: string("apiVersion"),
        6: string("resourceVersion"),
        7: string("fieldPath"),
    },
    "LocalObjectReference": {1: string("name")},
    "TypedLocalObjectReference": {
        1: string("apiGroup", POINTER),
        2: string("kind", ALWAYS),
        3: string("name", ALWAYS),
    },
    "Service": {
        1: message("metadata", "ObjectMeta"),
        2: message("spec", "ServiceSpec"),
        3: message("status", "ServiceStatus"),
    },
    "ServiceSpec": {
        1: messages("ports", "ServicePort"),
        2: labels("selector"),
        3: string("clusterIP"),
        18: strings("clusterIPs"),
        4: string("type"),
        5: strings("externalIPs"),
        7: string("sessionAffinity"),
        8: string("loadBalancerIP"),
        9: strings("loadBalancerSourceRanges"),
        10: string("externalName"),
        11: string("externalTrafficPolicy"),
        12: int32("healthCheckNodePort"),
        13: boolean("publishNotReadyAddresses"),
        14: message("sessionAffinityConfig", "SessionAffinityConfig", POINTER),
        19: strings("ipFamilies"),
        17: string("ipFamilyPolicy", POINTER),
        20: boolean("allocateLoadBalancerNodePorts", POINTER),
        21: string("loadBalancerClass", POINTER),
        22: string("internalTrafficPolicy", POINTER),
    },
    "ServicePort": {
        1: string("name"),
        2: string("protocol"),
        6: string("appProtocol", POINTER),
        3: int32("port", ALWAYS),
        4: Field("targetPort", Kind.INT_OR_STRING),
        5: int32("nodePort"),
    },
    "SessionAffinityConfig": {1: message("clientIP", "ClientIPConfig", POINTER)},
    "ClientIPConfig": {1: int32("timeoutSeconds", POINTER)},
    "ServiceStatus": {1: message("loadBalancer", "LoadBalancerStatus")},
    "LoadBalancerStatus": {1: messages("ingress", "LoadBalancerIngress")},
    "LoadBalancerIngress": {1: string("ip"), 2: string("hostname")},
    "PodTemplateSpec": {
        1: message("metadata", "ObjectMeta"),
        2: message("spec", "PodSpec"),
    },
    "PodSpec": {
        20: messages("initContainers", "Container"),
        2: messages("containers", "Container", ALWAYS),
        3: string("restartPolicy"),
        4: int64("terminationGracePeriodSeconds", POINTER),
        5: int64("activeDeadlineSeconds", POINTER),
        6: string("dnsPolicy"),
        7: labels("nodeSelector"),
        8: string("serviceAccountName"),
        9: string("serviceAccount"),
        21: boolean("automountServiceAccountToken", POINTER),
        10: string("nodeName"),
        11: boolean("hostNetwork"),
        12: boolean("hostPID"),
        13: boolean("hostIPC"),
        27: boolean("shareProcessNamespace", POINTER),
        15: messages("imagePullSecrets", "LocalObjectReference"),
        16: string("hostname"),
        17: string("subdomain"),
        19: string("schedulerName"),
        24: string("priorityClassName"),
        25: int32("priority", POINTER),
        29: string("runtimeClassName", POINTER),
        30: boolean("enableServiceLinks", POINTER),
        31: string("preemptionPolicy", POINTER),
        35: boolean("setHostnameAsFQDN", POINTER),
    },
    "Container": {
        1: string("name", ALWAYS),
        2: string("image"),
        3: strings("command"),
        4: strings("args"),
        5: string("workingDir"),
        6: messages("ports", "ContainerPort"),
        7: messages("env", "EnvVar"),
        8: message("resources", "ResourceRequirements"),
        13: string("terminationMessagePath"),
        20: string("terminationMessagePolicy"),
        14: string("imagePullPolicy"),
        16: boolean("stdin"),
        17: boolean("stdinOnce"),
        18: boolean("tty"),
    },
    "ContainerPort": {
        1: string("name"),
        2: int32("hostPort"),
        3: int32("containerPort", ALWAYS),
        4: string("protocol"),
        5: string("hostIP"),
    },
    "EnvVar": {
        1: string("name", ALWAYS),
        2: string("value"),
    },
    "ResourceRequirements": {
        1: Field("limits", Kind.QUANTITY_MAP),
        2: Field("requests", Kind.QUANTITY_MAP),
    },
}

# k8s.io/api/apps/v1/generated.proto
APPS: dict[str, Message] = {
    "Deployment": {
        1: message("metadata", "ObjectMeta"),
        2: message("spec", "DeploymentSpec"),
        3: message("status", "DeploymentStatus"),
    },
    "DeploymentSpec": {
        1: int32("replicas", POINTER),
        2: message("selector", "LabelSelector", POINTER),
        3: message("template", "PodTemplateSpec"),
        4: message("strategy", "DeploymentStrategy"),
        5: int32("minReadySeconds"),
        6: int32("revisionHistoryLimit", POINTER),
        7: boolean("paused"),
        9: int32("progressDeadlineSeconds", POINTER),
        10: string("podReplacementPolicy", POINTER),
    },
    "DeploymentStrategy": {
        1: string("type"),
        2: message("rollingUpdate", "RollingUpdateDeployment", POINTER),
    },
    "RollingUpdateDeployment": {
        1: Field("maxUnavailable", Kind.INT_OR_STRING, presence=POINTER),
        2: Field("maxSurge", Kind.INT_OR_STRING, presence=POINTER),
    },
    "DeploymentStatus": {
        1: int64("observedGeneration"),
        2: int32("replicas"),
        3: int32("updatedReplicas"),
        7: int32("readyReplicas"),
        4: int32("availableReplicas"),
        5: int32("unavailableReplicas"),
        9: int32("terminatingReplicas", POINTER),
        8: int32("collisionCount", POINTER),
    },
}

# k8s.io/api/networking/v1/generated.proto
NETWORKING: dict[str, Message] = {
    "Ingress": {
        1: message("metadata", "ObjectMeta"),
        2: message("spec", "IngressSpec"),
        3: message("status", "IngressStatus"),
    },
    "IngressSpec": {
        4: string("ingressClassName", POINTER),
        1: message("defaultBackend", "IngressBackend", POINTER),
        2: messages("tls", "IngressTLS"),
        3: messages("rules", "IngressRule"),
    },
    "IngressBackend": {
        4: message("service", "IngressServiceBackend", POINTER),
        3: message("resource", "TypedLocalObjectReference", POINTER),
    },
    "IngressServiceBackend": {
        1: string("name", ALWAYS),
        2: message("port", "ServiceBackendPort"),
    },
    "ServiceBackendPort": {
        1: string("name"),
        2: int32("number"),
    },
    "IngressTLS": {
        1: strings("hosts"),
        2: string("secretName"),
    },
    "IngressRule": {
        1: string("host"),
        2: Field("", Kind.MESSAGE, message="IngressRuleValue", inline=True),
    },
    "IngressRuleValue": {1: message("http", "HTTPIngressRuleValue", POINTER)},
    "HTTPIngressRuleValue": {1: messages("paths", "HTTPIngressPath", ALWAYS)},
    "HTTPIngressPath": {
        1: string("path"),
        3: string("pathType", POINTER),
        2: message("backend", "IngressBackend"),
    },
    "IngressStatus": {1: message("loadBalancer", "IngressLoadBalancerStatus")},
    "IngressLoadBalancerStatus": {1: messages("ingress", "IngressLoadBalancerIngress")},
    "IngressLoadBalancerIngress": {
        1: string("ip"),
        2: string("hostname"),
        4: messages("ports", "IngressPortStatus"),
    },
    "IngressPortStatus": {
        1: int32("port", ALWAYS),
        2: string("protocol", ALWAYS),
        3: string("error", POINTER),
    },
}

# k8s.io/api/rbac/v1/generated.proto
RBAC: dict[str, Message] = {
    "Role": {
        1: message("metadata", "ObjectMeta"),
        2: messages("rules", "PolicyRule", ALWAYS),
    },
    "ClusterRole": {
        1: message("metadata", "ObjectMeta"),
        2: messages("rules", "PolicyRule", ALWAYS),
        3: message("aggregationRule", "AggregationRule", POINTER),
    },
    "AggregationRule": {1: messages("clusterRoleSelectors", "LabelSelector")},
    "PolicyRule": {
        1: strings("verbs", ALWAYS),
        2: strings("apiGroups"),
        3: strings("resources"),
        4: strings("resourceNames"),
        5: strings("nonResourceURLs"),
    },
    "RoleBinding": {
        1: message("metadata", "ObjectMeta"),
        2: messages("subjects", "Subject"),
        3: message("roleRef", "RoleRef", ALWAYS),
    },
    "ClusterRoleBinding": {
        1: message("metadata", "ObjectMeta"),
        2: messages("subjects", "Subject"),
        3: message("roleRef", "RoleRef", ALWAYS),
    },
    "Subject": {
        1: string("kind", ALWAYS),
        2: string("apiGroup"),
        3: string("name", ALWAYS),
        4: string("namespace"),
    },
    "RoleRef": {
        1: string("apiGroup", ALWAYS),
        2: string("kind", ALWAYS),
        3: string("name", ALWAYS),
    },
}

MESSAGES: dict[str, Message] = {**META, **CORE, **APPS, **NETWORKING, **RBAC}

# (apiVersion, kind) of a top-level object -> its message table
KINDS: dict[tuple[str, str], str] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "Service"): "Service",
    ("apps/v1", "Deployment"): "Deployment",
    ("networking.k8s.io/v1", "Ingress"): "Ingress",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "ClusterRoleBinding",
}
