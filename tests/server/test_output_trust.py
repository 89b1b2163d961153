"""A job writes its own manifest, so the server trusts none of it: a run that claims
another user's file, another version's output, a path out of its prefix, or reaches
out through a symbolic link fails with ``reason: manifest`` and registers nothing.

The runs here are a forging program in the real sandbox: it writes the files, links
and manifest its plan says, under its own version prefix, as any hostile job could.
"""

from __future__ import annotations

import hashlib
import json
import sys

import pytest
from nagelfluh_runner.protocol import CONTRACT_VERSION

PROGRAM = r"""
import json, os, sys
plan = json.load(open(sys.argv[1]))
base = os.environ["STORAGE_BASE"][len("file://"):]
prefix = "{}/processes/{}/v{}/".format(
    os.environ["PROJECT_ID"], os.environ["PROCESS_ID"], os.environ["VERSION"])
def here(name):
    path = os.path.join(base, prefix, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path
for name, data in plan.get("write", {}).items():
    open(here(name), "w").write(data)
for name, target in plan.get("link", {}).items():
    os.symlink(target, here(name))
entries = json.loads(json.dumps(plan["datasets"]).replace("{prefix}", prefix))
manifest = {"datasets": entries, **plan.get("claims", {})}
open(here("_manifest.json"), "w").write(json.dumps(manifest))
"""
SECRET = b"the victim's survey, not for anyone else\n"
# From a version prefix ({project}/processes/{id}/v{n}/) up to the storage root.
TO_ROOT = "../../../../"


@pytest.fixture
def plan_file(tmp_path):
    folder = tmp_path / "plan"
    folder.mkdir(mode=0o755)
    return folder / "plan.json"


@pytest.fixture
def jp_server_config(jp_server_config, plan_file):
    jp_server_config["LocalExecutor"].update(
        command=[sys.executable, "-c", PROGRAM, str(plan_file)],
        read_only_paths=[str(plan_file.parent)],
    )
    return jp_server_config


async def _victim(api) -> dict:
    """Another user's project with an upload; its key is what the forgeries aim at."""
    other = api.as_user("victim")
    [project] = (await other.get("projects"))["items"]
    code, upload = await other.call(
        "POST", "dataset", SECRET, project=project["id"], name="secret.bin"
    )
    assert code == 201, upload
    return upload


async def _run(api, plan_file, plan: dict, process: int | None = None) -> dict:
    plan_file.write_text(json.dumps(plan))
    plan_file.chmod(0o644)
    if process is None:
        created = await api.submit("sleep", {"seconds": 1}, resources={"deadline_seconds": 60})
        process = created["id"]
        number = 1
    else:
        number = (await api.post(f"process/{process}/versions", {}))["version"]
    return await api.wait(process, number)


def _entry(path: str, **extra) -> dict:
    name = path.rsplit("}", 1)[-1].rsplit("/", 1)[-1]
    return {"key": name, "path": path, "mime_type": "text/plain", **extra}


async def test_honest_manifest_registers_outputs_with_size_and_digest_read_from_storage(
        api, plan_file):
    done = await _run(api, plan_file, {
        "write": {"out.txt": "42\n", "plots/a.txt": "a"},
        "datasets": [_entry("{prefix}out.txt", size=3), _entry("{prefix}plots/a.txt")],
    })

    assert done["state"] == "completed", done
    first, second = done["outputs"]
    assert (first["name"], first["size"]) == ("out.txt", 3)
    assert first["digest"] == "sha256:" + hashlib.sha256(b"42\n").hexdigest()
    assert second["key"].endswith("/v1/plots/a.txt") and second["size"] == 1
    assert second["name"] == "a.txt"
    code, body = await api.call("GET", f"dataset/{first['id']}")
    assert (code, body) == (200, b"42\n")


async def test_a_store_output_registers_with_its_total_size_and_listing_digest(api, plan_file):
    done = await _run(api, plan_file, {
        "write": {"m.zarr/zarr.json": "{}", "m.zarr/a/c/0": "chunk"},
        "datasets": [_entry("{prefix}m.zarr/", key="m.zarr", mime_type="application/x-zarr")],
    })

    assert done["state"] == "completed", done
    [store] = done["outputs"]
    assert store["key"].endswith("/v1/m.zarr/") and store["name"] == "m.zarr"
    assert store["size"] == len("{}") + len("chunk")
    listing = "".join(
        f"{path}\t{len(data)}\t{hashlib.sha256(data.encode()).hexdigest()}\n"
        for path, data in sorted({"zarr.json": "{}", "a/c/0": "chunk"}.items())
    )
    assert store["digest"] == "sha256:" + hashlib.sha256(listing.encode()).hexdigest()


FORGERIES = {
    "another user's upload": (
        {"datasets": [_entry("{victim_key}")]}, "not an output of this run"),
    "a path climbing out with ..": (
        {"datasets": [_entry("{prefix}" + TO_ROOT + "{victim_key}")]}, "'..' segment"),
    "an absolute path": (
        {"datasets": [_entry("/{victim_key}")]}, "is absolute"),
    "a symbolic link to another user's upload": (
        {"link": {"copy.bin": TO_ROOT + "{victim_key}"},
         "datasets": [_entry("{prefix}copy.bin")]}, "symbolic link"),
    "a file under a linked directory": (
        {"link": {"uploads": TO_ROOT + "{victim_dir}"},
         "datasets": [_entry("{prefix}uploads/secret.bin")]}, "symbolic link"),
    "a file the run never wrote": (
        {"datasets": [_entry("{prefix}ghost.bin")]}, "did not write"),
    "a size that storage does not hold": (
        {"write": {"out.txt": "42\n"}, "datasets": [_entry("{prefix}out.txt", size=10**9)]},
        "storage holds 3"),
    "the manifest itself as an output": (
        {"datasets": [_entry("{prefix}_manifest.json")]}, "not an output of this run"),
    "a media type that would inject a header": (
        {"write": {"out.txt": "42\n"},
         "datasets": [_entry("{prefix}out.txt", mime_type="text/plain\r\nX-Evil: 1")]},
        "is not a media type"),
    "a name with a lone surrogate": (
        {"write": {"out.txt": "42\n"},
         "datasets": [_entry("{prefix}out.txt", key="\ud800")]}, "its name must be"),
    "metadata with NaN": (
        {"write": {"out.txt": "42\n"},
         "datasets": [_entry("{prefix}out.txt", metadata={"scale": float("nan")})]},
        "not storable JSON"),
    "a store the run never wrote": (
        {"datasets": [_entry("{prefix}ghost.zarr/", key="ghost.zarr")]}, "did not write"),
    "another user's upload folder as a store": (
        {"datasets": [_entry("{victim_dir}/", key="theirs.zarr")]}, "not an output of this run"),
    "the whole version prefix as a store": (
        {"write": {"out.txt": "42\n"}, "datasets": [_entry("{prefix}", key="all")]},
        "not an output of this run"),
    "a store holding a symbolic link to another user's upload": (
        {"write": {"m.zarr/zarr.json": "{}"},
         "link": {"m.zarr/c": "../" + TO_ROOT + "{victim_key}"},
         "datasets": [_entry("{prefix}m.zarr/", key="m.zarr")]}, "symbolic link"),
    "a file inside a store listed as an output of its own": (
        {"write": {"m.zarr/zarr.json": "{}"},
         "datasets": [_entry("{prefix}m.zarr/zarr.json"),
                      _entry("{prefix}m.zarr/", key="m.zarr")]}, "lies inside the store"),
    "another process's identity": (
        {"write": {"out.txt": "42\n"}, "claims": {"process": 999999},
         "datasets": [_entry("{prefix}out.txt")]}, "claims process 999999"),
}


@pytest.mark.parametrize("forgery", FORGERIES, ids=list(FORGERIES))
async def test_forged_manifest_fails_the_run_and_registers_nothing(
        api, plan_file, forgery):
    victim = await _victim(api)
    plan, said = FORGERIES[forgery]
    victim_dir = victim["key"].rsplit("/", 1)[0]
    text = json.dumps(plan).replace("{victim_key}", victim["key"]).replace(
        "{victim_dir}", victim_dir)

    done = await _run(api, plan_file, json.loads(text))

    assert (done["state"], done["reason"]) == ("failed", "manifest"), done
    assert "_manifest.json entry 1" in done["message"] or "_manifest.json claims" in (
        done["message"]), done["message"]
    assert said in done["message"], done["message"]
    assert done["outputs"] == []
    assert (await api.get("dataset"))["items"] == []
    logs = (await api.get(f"process/{done['process']}/versions/1/logs"))["items"]
    assert logs[-1]["stream"] == "system" and said in logs[-1]["line"]


async def test_a_manifest_of_a_newer_job_contract_fails_the_run_saying_what_to_upgrade(
        api, plan_file):
    """A runner speaking a contract this server does not (one built for a newer server,
    which ignored the version the server asked for) registers nothing."""
    done = await _run(api, plan_file, {
        "write": {"out.txt": "42\n"}, "claims": {"contract_version": CONTRACT_VERSION + 1},
        "datasets": [_entry("{prefix}out.txt")]})

    assert (done["state"], done["reason"]) == ("failed", "manifest"), done
    assert done["message"] == (
        f"the server (nagelfluh-lab) speaks job contract version {CONTRACT_VERSION} and the "
        f"runner (nagelfluh-runner in the environment's image) version {CONTRACT_VERSION + 1}: "
        "upgrade the server (nagelfluh-lab)")
    assert done["outputs"] == [] and (await api.get("dataset"))["items"] == []


async def test_a_version_cannot_claim_an_earlier_versions_output(api, plan_file):
    first = await _run(api, plan_file, {
        "write": {"out.txt": "v1\n"}, "datasets": [_entry("{prefix}out.txt")]})
    assert first["state"] == "completed", first
    [earlier] = first["outputs"]

    second = await _run(api, plan_file, {"datasets": [_entry(earlier["key"])]},
                        process=first["process"])

    assert (second["state"], second["reason"]) == ("failed", "manifest"), second
    assert "not an output of this run" in second["message"]
    assert [d["id"] for d in (await api.get("dataset"))["items"]] == [earlier["id"]]


async def test_one_forged_entry_among_honest_ones_registers_none_of_them(
        api, plan_file):
    victim = await _victim(api)
    done = await _run(api, plan_file, {
        "write": {"good.txt": "fine"},
        "datasets": [_entry("{prefix}good.txt"), _entry(victim["key"])],
    })

    assert (done["state"], done["reason"]) == ("failed", "manifest")
    assert "entry 2" in done["message"]
    assert done["outputs"] == []
