"""The `contour` command line."""
