"""Wiring: informer events into the cache, debounced rebuilds into snapshots and status."""
