"""ListenerProcessor: the `ingress_http` and `ingress_https` listeners every build starts with.

Contour's HTTPProxy and Ingress processors add hosts to these two listeners by name; the addresses
and ports come from the configuration (Envoy's 8080/8443 inside the pod by default).
"""

from __future__ import annotations

from contour.dag.builder import HTTP_LISTENER_NAME, HTTPS_LISTENER_NAME, BuildContext
from contour.dag.model import Listener


class ListenerProcessor:
    def run(self, ctx: BuildContext) -> None:
        cfg = ctx.config
        ctx.dag.listeners[HTTP_LISTENER_NAME] = Listener(
            name=HTTP_LISTENER_NAME, protocol="http", address=cfg.http_address, port=cfg.http_port
        )
        ctx.dag.listeners[HTTPS_LISTENER_NAME] = Listener(
            name=HTTPS_LISTENER_NAME, protocol="https", address=cfg.https_address, port=cfg.https_port
        )
