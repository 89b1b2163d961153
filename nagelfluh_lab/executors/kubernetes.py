"""Deprecated: now ``nagelfluh_lab.cluster.executor``.

A shim kept for one release, as configurations name
``nagelfluh_lab.executors.kubernetes.KubernetesExecutor``: importing it warns and
hands back the new module (``nagelfluh_lab.cluster.moved``). The only kind of
re-export in the package.
"""

from nagelfluh_lab.cluster.moved import alias

alias(__name__)
