"""Deprecated: the Kubernetes backend moved to :mod:`nagelfluh_lab.cluster`.

Its modules ``cli``, ``cluster`` (now ``setup``) and ``manifests`` remain here for
one release as aliases that warn when imported; this package goes with them.
"""
