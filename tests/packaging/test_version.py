"""One version for the whole project, read from labextension/package.json: every
distribution, the API document and the changelog say the same, so a release bumps
one line (CONTRIBUTING.md, "Releasing")."""

from __future__ import annotations

import json
import pathlib
import re
from importlib.metadata import version

import nagelfluh_lab

ROOT = pathlib.Path(__file__).resolve().parents[2]
VERSION = json.loads((ROOT / "labextension" / "package.json").read_text())["version"]


def test_every_python_distribution_has_the_packages_json_version():
    """Editable installs read it at install time: after a bump, install again."""
    assert {
        name: version(name) for name in ("nagelfluh-lab", "nagelfluh-runner", "nagelfluh-magics")
    } == dict.fromkeys(("nagelfluh-lab", "nagelfluh-runner", "nagelfluh-magics"), VERSION)
    assert nagelfluh_lab.__version__ == VERSION


def test_no_pyproject_writes_a_version_of_its_own():
    for pyproject in (ROOT / "pyproject.toml", *ROOT.glob("*/pyproject.toml")):
        text = pyproject.read_text()
        assert re.search(r"^version\s*=", text, re.M) is None, pyproject
        assert 'dynamic = ["version"]' in text, pyproject


def test_the_api_document_carries_the_version():
    document = json.loads((ROOT / "nagelfluh_lab" / "openapi.json").read_text())
    assert document["info"]["version"] == VERSION


def test_the_changelog_names_no_release_newer_than_the_version():
    """Its newest section is the coming release ([Unreleased], which a release renames
    to the version) or the version itself."""
    sections = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    released = [tuple(map(int, s.split("."))) for s in sections if s != "Unreleased"]
    assert sections[0] in ("Unreleased", VERSION)
    assert all(r <= tuple(map(int, VERSION.split("."))) for r in released)
