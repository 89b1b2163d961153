"""Deprecated: now ``nagelfluh_lab.cluster.cli``.

A shim kept for one release, as the ``nagelfluh-lab`` script of an install made
before the move imports it (reinstalling writes one that names the new module):
importing it warns and hands back the new module (``nagelfluh_lab.cluster.moved``).
The only kind of re-export in the package.
"""

from nagelfluh_lab.cluster.moved import alias

alias(__name__)
