"""Fixtures for the runner: a job launcher speaking the execution contract, and S3 (moto)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from nagelfluh_runner.protocol import CONTRACT_VERSION, ENV_CONTRACT_VERSION

PROJECT = 7


class RunnerJobs:
    """Starts ``python -m nagelfluh_runner run`` as an executor would, on file storage."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.storage_base = f"file://{root}"

    def env(self, process_type: str, params: dict, *, process: int = 1, version: int = 1,
            project: int = PROJECT, inputs: dict | None = None) -> dict[str, str]:  # fmt: skip
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PROCESS_TYPE": process_type,
            "PROCESS_ID": str(process),
            "VERSION": str(version),
            "PROJECT_ID": str(project),
            "PARAMETERS_JSON": json.dumps(params),
            "STORAGE_BASE": self.storage_base,
            ENV_CONTRACT_VERSION: str(CONTRACT_VERSION),
        }
        if inputs is not None:
            env["INPUT_DATASETS_JSON"] = json.dumps(inputs)
        return env

    def start(self, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "nagelfluh_runner", "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )

    def run(self, process_type: str, params: dict, **kwargs) -> subprocess.CompletedProcess:
        return self.start(self.env(process_type, params, **kwargs))

    def manifest(self, process: int = 1, version: int = 1, project: int = PROJECT) -> dict:
        path = self.root / str(project) / "processes" / str(process) / f"v{version}"
        return json.loads((path / "_manifest.json").read_text())

    def output_path(self, dataset: dict) -> Path:
        return self.root / dataset["path"]

    def inputs_from(self, manifest: dict, dataset_id: str, name: str) -> dict:
        """INPUT_DATASETS_JSON for one output of an earlier run, as the server would build it."""
        entry = next(d for d in manifest["datasets"] if d["key"] == name)
        return {dataset_id: {"key": entry["path"], "mime_type": entry["mime_type"], "name": name}}


@pytest.fixture
def jobs(tmp_path: Path) -> RunnerJobs:
    root = tmp_path / "storage"
    root.mkdir()
    return RunnerJobs(root)


@pytest.fixture(scope="session")
def moto_endpoint():
    """An S3 endpoint on 127.0.0.1 served by moto for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint) -> str:
    import boto3

    name = f"nagelfluh-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_storage(moto_endpoint, s3_bucket):
    from nagelfluh_runner.storage import open_storage

    return open_storage(
        f"s3://{s3_bucket}/base",
        moto_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
    )
