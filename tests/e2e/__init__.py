"""End-to-end tier: the xDS server drives a real Envoy, real HTTP reaches `contour echo` backends."""
