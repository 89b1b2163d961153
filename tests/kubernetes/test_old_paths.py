"""The modules of the Kubernetes backend moved to ``nagelfluh_lab.cluster``; their old
paths import for one release, warning, so that configurations naming them keep working."""

from __future__ import annotations

import importlib
import sys

import pytest
from traitlets.config import Config

from nagelfluh_lab import app
from nagelfluh_lab.cluster.executor import KubernetesExecutor
from nagelfluh_lab.cluster.moved import MOVED
from nagelfluh_lab.cluster.schema import KubernetesSchemaExtractor


def forget(old: str) -> None:
    """Let the next import of ``old`` run its shim again (once imported, the old
    name is the new module in ``sys.modules``)."""
    sys.modules.pop(old, None)


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_imports_the_moved_module_itself_and_warns(old, new):
    moved = importlib.import_module(new)
    forget(old)
    with pytest.warns(DeprecationWarning, match=f"^{old} moved to {new}; "):
        assert importlib.import_module(old) is moved


def test_a_configuration_naming_the_old_class_paths_gets_the_kubernetes_classes():
    for old in ("nagelfluh_lab.executors.kubernetes", "nagelfluh_lab.executors.k8s_schema"):
        forget(old)
    config = Config(
        {
            "NagelfluhApp": {
                "executor_class": "nagelfluh_lab.executors.kubernetes.KubernetesExecutor",
                "schema_extractor_class": (
                    "nagelfluh_lab.executors.k8s_schema.KubernetesSchemaExtractor"
                ),
            },
            "KubernetesExecutor": {"image": "registry.example/runner:1"},
        }
    )
    with pytest.warns(DeprecationWarning) as warned:
        nagelfluh = app.NagelfluhApp(config=config)
        assert nagelfluh.executor_class is KubernetesExecutor
        assert nagelfluh.schema_extractor_class is KubernetesSchemaExtractor
    assert len(warned) == 2
    assert app._is_kubernetes(nagelfluh.executor_class)
    # The config section is the class name's, which did not change.
    executor = KubernetesExecutor(parent=nagelfluh, installation="test")
    assert executor.image == "registry.example/runner:1"
