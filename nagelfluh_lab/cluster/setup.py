"""The cluster set-up shipped with the project: what an admin applies once, after Kueue.

``nagelfluh-lab k8s manifests`` prints these; ``deploy/kubernetes/nagelfluh.yaml``
is their default rendering.
"""

from __future__ import annotations

from typing import Any, TypeAlias

# A Kubernetes object (or a part of one) as plain JSON, as the API server sends it and
# as kubectl applies it: the executor reads and writes objects so, not as client models.
KubeObject: TypeAlias = dict[str, Any]

NAMESPACE = "nagelfluh-jobs"
QUEUE_NAME = "nagelfluh-queue"
CLUSTER_QUEUE = "nagelfluh-cluster-queue"
FLAVOR = "default-flavor"
SERVER_ACCOUNT = "nagelfluh-server"
RUNNER_ACCOUNT = "nagelfluh-runner"
APP_LABEL = "nagelfluh.app"
# Kueue reads this label on a Job (the annotation of that name is no longer honoured).
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
KUEUE_API = "kueue.x-k8s.io/v1beta1"
# Quotas of the shipped set-up: a kind/k3d cluster on a laptop; admins size their own.
CPU_QUOTA = "4"
MEMORY_QUOTA = "8Gi"


def _server_rules() -> list[KubeObject]:
    """What the server's Kubernetes executor does, and nothing more.

    Jobs: submit, watch, cancel; and the schema Jobs that register environments
    from images (create, poll, delete). Pods: watch, follow logs. Secrets: the
    per-run storage credentials (the garbage collector deletes them with the
    Job; delete covers a Job that failed to be made). Workloads: Kueue's admission.
    """
    return [
        {
            "apiGroups": ["batch"],
            "resources": ["jobs"],
            "verbs": ["create", "get", "list", "watch", "delete"],
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "get", "delete"]},
        {
            "apiGroups": ["kueue.x-k8s.io"],
            "resources": ["workloads"],
            "verbs": ["get", "list", "watch"],
        },
    ]


def cluster_manifests(
    *, cpu: str = CPU_QUOTA, memory: str = MEMORY_QUOTA, namespace: str = NAMESPACE
) -> list[KubeObject]:
    """The set-up objects in the order ``kubectl apply`` needs them.

    ``cpu`` and ``memory`` are the ClusterQueue's nominal quotas (Kubernetes
    quantities): how much all running versions may request together.
    """
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                # The Jobs' pods meet the "restricted" Pod Security Standard; enforcing it
                # keeps anything less locked down out of the namespace.
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SERVER_ACCOUNT, "namespace": namespace},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": SERVER_ACCOUNT, "namespace": namespace},
            "rules": _server_rules(),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": SERVER_ACCOUNT, "namespace": namespace},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": SERVER_ACCOUNT,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": SERVER_ACCOUNT, "namespace": namespace}
            ],
        },
        {
            # The Jobs' pods: no Role, no token.
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": RUNNER_ACCOUNT, "namespace": namespace},
            "automountServiceAccountToken": False,
        },
        {"apiVersion": KUEUE_API, "kind": "ResourceFlavor", "metadata": {"name": FLAVOR}},
        {
            "apiVersion": KUEUE_API,
            "kind": "ClusterQueue",
            "metadata": {"name": CLUSTER_QUEUE},
            "spec": {
                "namespaceSelector": {},
                "queueingStrategy": "BestEffortFIFO",
                "resourceGroups": [
                    {
                        "coveredResources": ["cpu", "memory"],
                        "flavors": [
                            {
                                "name": FLAVOR,
                                "resources": [
                                    {"name": "cpu", "nominalQuota": cpu},
                                    {"name": "memory", "nominalQuota": memory},
                                ],
                            }
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": KUEUE_API,
            "kind": "LocalQueue",
            "metadata": {"name": QUEUE_NAME, "namespace": namespace},
            "spec": {"clusterQueue": CLUSTER_QUEUE},
        },
    ]
