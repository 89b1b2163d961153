"""Where the cluster backend's modules were before they came together here, and the
aliases that keep those paths importable for one release.

Configurations name classes by import path (``c.NagelfluhApp.executor_class =
"nagelfluh_lab.executors.kubernetes.KubernetesExecutor"``), and the ``nagelfluh-lab``
script of an install made before the move imports ``nagelfluh_lab.kubernetes.cli``.
Each old path is a module of three lines that calls :func:`alias`: importing it warns
(DeprecationWarning) and hands back the new module itself, so classes, config
sections (``c.KubernetesExecutor``) and monkeypatching stay one and the same. These
shims are the package's only re-exports; the next release deletes them and this.
"""

from __future__ import annotations

import importlib
import sys
import warnings

MOVED = {
    "nagelfluh_lab.executors.kubernetes": "nagelfluh_lab.cluster.executor",
    "nagelfluh_lab.executors.k8s_schema": "nagelfluh_lab.cluster.schema",
    "nagelfluh_lab.executors.k8s_watch": "nagelfluh_lab.cluster.watch",
    "nagelfluh_lab.executors.k8s_logs": "nagelfluh_lab.cluster.logs",
    "nagelfluh_lab.kubernetes.cli": "nagelfluh_lab.cluster.cli",
    "nagelfluh_lab.kubernetes.cluster": "nagelfluh_lab.cluster.setup",
    "nagelfluh_lab.kubernetes.manifests": "nagelfluh_lab.cluster.manifests",
}


def alias(old: str) -> None:
    """Make the module ``old`` (being imported) the module it moved to, with a warning
    that points at the line importing it."""
    new = MOVED[old]
    warnings.warn(
        f"{old} moved to {new}; the old path goes in the next release",
        DeprecationWarning,
        stacklevel=3,
    )
    sys.modules[old] = importlib.import_module(new)
