"""The DAG: Kubernetes objects in, listeners/virtual hosts/routes/clusters and object status out.

Pure code: no I/O, no clock, no Kubernetes client, no Envoy types.
"""
