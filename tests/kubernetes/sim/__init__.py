"""A simulated Kubernetes cluster for the test suite: an HTTP server speaking the
Kubernetes API to the official client, with Kueue, the Job controller, the garbage
collector and a kubelet that runs each pod's command as a local process."""

from .cluster import NAMESPACE, SimCluster

__all__ = ["NAMESPACE", "SimCluster"]
