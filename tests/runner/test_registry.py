"""Process types are found through entry points and loaded one module at a time."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap

import pytest
from nagelfluh_runner import registry
from nagelfluh_runner.protocol import CONTRACT_VERSION
from nagelfluh_runner.sdk import ProcessType

BOOTSTRAP = ["fft", "inversion", "sleep", "synthetic-signal", "synthetic-survey"]


def test_fast_scan_finds_what_importlib_metadata_finds():
    expected = {}
    for point in importlib.metadata.entry_points(group=registry.GROUP):
        expected.setdefault(point.name, point.value)
    assert registry.entry_points() == expected
    assert set(BOOTSTRAP) <= set(expected)


def test_every_bootstrap_type_loads_as_a_described_process_type():
    described = registry.describe_all()
    assert [d["name"] for d in described] == registry.names()
    for item in described:
        cls = registry.load(item["name"])
        assert issubclass(cls, ProcessType)
        assert item == {
            "name": cls.name,
            "title": cls.title,
            "description": cls.description,
            "schema": cls.schema,
            "version": cls.type_version(),
            "cacheable": cls.cacheable,
        }
        assert item["title"] and item["description"]
        assert item["schema"]["type"] == "object"


def test_unknown_type_names_the_installed_ones():
    with pytest.raises(
        registry.UnknownProcessType, match=r"unknown process type 'nope' \(known: .*fft.*sleep"
    ):
        registry.load("nope")


def test_load_imports_only_the_requested_types_module():
    code = (
        "import sys\n"
        "from nagelfluh_runner import registry\n"
        "registry.load('sleep')\n"
        "print(sorted(m for m in sys.modules if m.startswith('nagelfluh_runner.bootstrap.')))\n"
        "print('numpy' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split("\n")[:2] == ["['nagelfluh_runner.bootstrap.sleep']", "False"]


def _install_fake_distribution(path, dist: str, body: str, module: str, source: str) -> None:
    (path / f"{dist}-1.0.dist-info").mkdir()
    (path / f"{dist}-1.0.dist-info" / "entry_points.txt").write_text(textwrap.dedent(body))
    (path / f"{module}.py").write_text(textwrap.dedent(source))


def test_third_party_types_register_through_their_own_distribution(tmp_path, monkeypatch):
    _install_fake_distribution(
        tmp_path,
        "lab_extra_types",
        """
        # comment
        [console_scripts]
        tool = lab_types:main

        [nagelfluh.process_types]
        echo = lab_types:Echo [extra]
        broken = lab_types:NotAType
        ; another comment
        """,
        "lab_types",
        """
        from nagelfluh_runner.sdk import ProcessType

        class Echo(ProcessType):
            name = "echo"

        class NotAType:
            pass
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registry.entry_points()["echo"] == "lab_types:Echo"
    assert "tool" not in registry.entry_points()
    assert registry.load("echo").name == "echo"
    with pytest.raises(TypeError, match="not a ProcessType subclass"):
        registry.load("broken")


def test_the_first_distribution_on_sys_path_wins(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    type_source = (
        'from nagelfluh_runner.sdk import ProcessType\nclass T(ProcessType):\n    name = "twin"\n'
    )
    _install_fake_distribution(
        first,
        "twin-dist",
        "[nagelfluh.process_types]\ntwin = first_mod:T\n",
        "first_mod",
        type_source,
    )
    _install_fake_distribution(
        second,
        "twin_dist",
        "[nagelfluh.process_types]\ntwin = second_mod:T\n",
        "second_mod",
        type_source,
    )
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    assert registry.entry_points()["twin"] == "first_mod:T"
    assert registry.load("twin").__module__ == "first_mod"


def test_discovery_lists_each_broken_entry_point_and_keeps_the_others(tmp_path, monkeypatch):
    _install_fake_distribution(
        tmp_path,
        "lab_mixed_types",
        """
        [nagelfluh.process_types]
        echo = lab_mixed:Echo
        gone = lab_missing_module:Gone
        not-a-type = lab_mixed:NotAType
        exits = lab_exits:Type
        """,
        "lab_mixed",
        """
        from nagelfluh_runner import ProcessType

        class Echo(ProcessType):
            name = "echo"

        class NotAType:
            pass
        """,
    )
    (tmp_path / "lab_exits.py").write_text("import sys\nsys.exit('no licence')\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    described, broken = registry.discover()

    assert {"echo", *BOOTSTRAP} <= {d["name"] for d in described}
    assert broken == [
        {"name": "exits", "entry_point": "lab_exits:Type", "error": "SystemExit: no licence"},
        {
            "name": "gone",
            "entry_point": "lab_missing_module:Gone",
            "error": "ModuleNotFoundError: No module named 'lab_missing_module'",
        },
        {
            "name": "not-a-type",
            "entry_point": "lab_mixed:NotAType",
            "error": "TypeError: entry point 'not-a-type' (lab_mixed:NotAType) is not a "
            "ProcessType subclass",
        },
    ]


def test_schema_lists_the_types_that_load_then_the_broken_ones_on_a_line_of_their_own(tmp_path):
    _install_fake_distribution(
        tmp_path,
        "lab_half_broken",
        """
        [nagelfluh.process_types]
        echo = lab_half:Echo
        gone = lab_missing_module:Gone
        """,
        "lab_half",
        """
        from nagelfluh_runner import ProcessType

        class Echo(ProcessType):
            name = "echo"
        """,
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    result = subprocess.run(
        [sys.executable, "-m", "nagelfluh_runner", "schema"],
        capture_output=True, text=True, check=True, env=env,
    )

    described, end = json.JSONDecoder().raw_decode(result.stdout)
    assert {"echo", *BOOTSTRAP} <= {d["name"] for d in described}
    after = [json.loads(line) for line in result.stdout[end:].splitlines() if line]
    assert [list(line) for line in after] == [["contract_version"], ["environment"], ["broken"]]
    del after[1]
    assert after == [{"contract_version": CONTRACT_VERSION}, {"broken": [{
        "name": "gone",
        "entry_point": "lab_missing_module:Gone",
        "error": "ModuleNotFoundError: No module named 'lab_missing_module'",
    }]}]
