"""The xDS snapshot cache and the gRPC server that streams it to Envoy.

The package is split so the cache knows nothing about gRPC (as in go-control-plane):

* ``typeurls``  - the type URLs served and the name of each resource.
* ``wire``      - protobuf wire-format helpers: responses are assembled from bytes encoded once.
* ``snapshot``  - ``Snapshot.build(version, {type_url: [messages]})``: every resource serialised once,
  with a per-resource version; ``Snapshot.missing_references()`` is the consistency check.
* ``references``- which RDS, EDS and SDS names listeners and clusters refer to.
* ``cache``     - ``SnapshotCache``: one snapshot per node group, watches woken on ``set_snapshot``.
* ``endpoints`` - ``EndpointsCache``: change some ClusterLoadAssignments without touching other types.
* ``nacks``     - ``NackRegistry``: the NACKs Envoy sent, for the status writer.
* ``metrics``   - ``XdsMetrics``: prometheus gauges and counters on a registry the caller chooses.
* ``sotw`` / ``delta`` - the per-stream protocol state machines (state of the world, incremental).
* ``server``    - ``start_server(cache, address, port, tls=...) -> XdsServer``: ADS and per-type services.
* ``tls``       - ``TlsFiles``: mTLS server credentials, re-read when the files change.
"""
