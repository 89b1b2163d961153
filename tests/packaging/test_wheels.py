"""Both distributions install from their wheels (not only editable) and the server finds
the extension enabled, with its data files, migrations and process types."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.packaging.test_version import VERSION

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _uv() -> str:
    uv = shutil.which("uv") or str(pathlib.Path(sys.executable).with_name("uv"))
    if not pathlib.Path(uv).exists():
        pytest.fail("uv is needed to build wheels (scripts/test.sh installs it)")
    return uv


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, pathlib.Path]:
    out = tmp_path_factory.mktemp("wheels")
    for source in (ROOT / "runner", ROOT):
        subprocess.run(
            [_uv(), "build", "-q", "--wheel", "--out-dir", str(out), str(source)],
            check=True,
            stdin=subprocess.DEVNULL,
        )
    return {p.name.split("-")[0]: p for p in out.glob("*.whl")}


def test_server_wheel_ships_migrations_schemas_openapi_and_enables_itself(wheels):
    names = set(zipfile.ZipFile(wheels["nagelfluh_lab"]).namelist())
    assert "nagelfluh_lab/openapi.json" in names
    assert "nagelfluh_lab/event_schemas/state.yaml" in names
    assert "nagelfluh_lab/db/migrations/env.py" in names
    assert any(n.startswith("nagelfluh_lab/db/migrations/versions/0001") for n in names)
    assert (
        f"nagelfluh_lab-{VERSION}.data/data/etc/jupyter/jupyter_server_config.d/nagelfluh_lab.json"
        in names
    )


def test_server_wheel_ships_the_prebuilt_side_panel_with_its_settings_schema(wheels):
    names = set(zipfile.ZipFile(wheels["nagelfluh_lab"]).namelist())
    share = f"nagelfluh_lab-{VERSION}.data/data/share/jupyter/labextensions/nagelfluh-lab/"
    assert share + "package.json" in names
    assert share + "install.json" in names
    assert share + "schemas/nagelfluh-lab/plugin.json" in names
    assert any(n.startswith(share + "static/remoteEntry.") for n in names)


def test_runner_wheel_registers_the_bootstrap_types_and_needs_no_jupyter(wheels):
    archive = zipfile.ZipFile(wheels["nagelfluh_runner"])
    entry_points = archive.read(f"nagelfluh_runner-{VERSION}.dist-info/entry_points.txt").decode()
    for name in ("synthetic-signal", "fft", "synthetic-survey", "inversion", "sleep"):
        assert f"{name} = nagelfluh_runner.bootstrap." in entry_points
    metadata = archive.read(f"nagelfluh_runner-{VERSION}.dist-info/METADATA").decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist")]
    assert not any("jupyter" in line.lower() for line in requires)


@pytest.mark.slow
def test_wheels_install_into_a_clean_environment_with_the_extension_enabled(wheels, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([_uv(), "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "-q",
            "-p",
            str(python),
            "-c",
            str(ROOT / "constraints.txt"),
            str(wheels["nagelfluh_runner"]),
            str(wheels["nagelfluh_lab"]),
        ],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    listing = subprocess.run(
        [str(venv / "bin" / "jupyter"), "server", "extension", "list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)
    assert "nagelfluh_lab enabled" in output
    assert f"nagelfluh_lab {VERSION} OK" in output
    labextensions = subprocess.run(
        [str(venv / "bin" / "jupyter"), "labextension", "list"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert re.search(
        r"nagelfluh-lab v0\.1\.0 \S*enabled\S* \S*OK",
        re.sub(r"\x1b\[[0-9;]*m", "", labextensions.stdout + labextensions.stderr),
    )
    schema = subprocess.run(
        [str(python), "-m", "nagelfluh_runner", "schema"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert '"synthetic-survey"' in schema.stdout
