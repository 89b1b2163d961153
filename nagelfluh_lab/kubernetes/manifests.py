"""Deprecated: now ``nagelfluh_lab.cluster.manifests`` (the objects of one run).

A shim kept for one release, for code outside the package that imports it:
importing it warns and hands back the new module (``nagelfluh_lab.cluster.moved``).
The only kind of re-export in the package.
"""

from nagelfluh_lab.cluster.moved import alias

alias(__name__)
