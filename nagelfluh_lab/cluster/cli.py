"""``nagelfluh-lab k8s manifests``: print the cluster set-up for ``kubectl apply -f -``."""

from __future__ import annotations

import argparse
import sys

import yaml
from kubernetes.utils.quantity import parse_quantity

from .setup import CPU_QUOTA, MEMORY_QUOTA, NAMESPACE, KubeObject, cluster_manifests


class _Dumper(yaml.SafeDumper):
    """Plain YAML without anchors, which kubectl reads but reviewers should not have to."""

    def ignore_aliases(self, data: object) -> bool:
        return True


_HEADER = """\
# nagelfluh-lab cluster set-up, printed by `nagelfluh-lab k8s manifests` (see deploy/README.md).
# Install Kueue first, then: kubectl apply -f <this file>
"""


def render(manifests: list[KubeObject]) -> str:
    """Manifests as one multi-document YAML stream, keys in the order they were written."""
    body = yaml.dump_all(manifests, Dumper=_Dumper, sort_keys=False, explicit_start=True)
    return _HEADER + body


def _quantity(text: str) -> str:
    try:
        value = parse_quantity(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive quantity")
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nagelfluh-lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    k8s = commands.add_parser("k8s", help="Kubernetes set-up").add_subparsers(
        dest="k8s_command", required=True
    )
    manifests = k8s.add_parser(
        "manifests",
        help="print the namespace, Kueue queues and RBAC as YAML for kubectl apply -f -",
    )
    manifests.add_argument(
        "--cpu", type=_quantity, default=CPU_QUOTA, help="CPU quota of all runs together"
    )
    manifests.add_argument(
        "--memory", type=_quantity, default=MEMORY_QUOTA, help="memory quota of all runs together"
    )
    manifests.add_argument("--namespace", default=NAMESPACE, help="namespace of the Jobs")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    manifests = cluster_manifests(cpu=args.cpu, memory=args.memory, namespace=args.namespace)
    sys.stdout.write(render(manifests))
