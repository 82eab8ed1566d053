"""The embedded Kubernetes-compatible API server used when no cluster is available."""
