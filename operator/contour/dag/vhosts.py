"""Get-or-create for the virtual hosts of Contour's two listeners (Contour's EnsureVirtualHost)."""

from __future__ import annotations

from contour.dag.model import DAG, SecureVirtualHost, VirtualHost

HTTP_LISTENER_NAME = "ingress_http"
HTTPS_LISTENER_NAME = "ingress_https"


def ensure_virtual_host(dag: DAG, host: str, listener: str = HTTP_LISTENER_NAME) -> VirtualHost:
    hosts = dag.listeners[listener].virtual_hosts
    vhost = hosts.get(host)
    if vhost is None:
        vhost = hosts[host] = VirtualHost(name=host)
    return vhost


def ensure_secure_virtual_host(dag: DAG, host: str, listener: str = HTTPS_LISTENER_NAME) -> SecureVirtualHost:
    hosts = dag.listeners[listener].secure_virtual_hosts
    svhost = hosts.get(host)
    if svhost is None:
        svhost = hosts[host] = SecureVirtualHost(virtual_host=VirtualHost(name=host))
    return svhost
