"""Running versions as Kubernetes Jobs queued by Kueue: manifests, cluster set-up, CLI."""
