"""The only code that talks to a Kubernetes API: informers, status writer, leader election."""
