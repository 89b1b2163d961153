"""Per-run credentials: STS AssumeRole against moto, and the static fallback."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError
from moto.sts.models import sts_backends
from nagelfluh_runner.protocol import EXIT_OK
from nagelfluh_runner.storage import open_storage
from traitlets import TraitError
from traitlets.config import Config

from nagelfluh_lab.credentials import (
    CredentialsError,
    SessionPolicyTooLarge,
    StaticCredentials,
    StsCredentials,
    policy_text,
    session_policy,
)
from nagelfluh_lab.executors.base import RunKey, RunSpec
from nagelfluh_lab.executors.contract import run_environment
from tests.storage.conftest import BASE

CREDENTIAL_KEYS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def _spec(
    storage,
    process: int = 3,
    version: int = 2,
    *,
    project: int = 7,
    deadline: float = 600.0,
    process_type: str = "sleep",
    parameters: dict | None = None,
    inputs: dict | None = None,
) -> RunSpec:
    return RunSpec(
        key=RunKey(process, version),
        project_id=project,
        process_type=process_type,
        parameters=parameters or {},
        input_datasets=inputs or {},
        cpu=1.0,
        memory=2**30,
        deadline_seconds=deadline,
        storage_base=storage.url,
    )


def _sts(account, **settings) -> StsCredentials:
    """A provider configured as an operator would, through traitlets config."""
    config = Config({"StsCredentials": {"role_arn": account.role_arn, **settings}})
    return StsCredentials(config=config, storage=account.storage())


def test_sts_credentials_are_temporary_keys_of_the_role_under_the_runs_policy(account):
    provider = _sts(account, sts_endpoint=account.endpoint, queue_allowance_seconds=1800)
    before = datetime.now(timezone.utc)
    env = provider.for_run(_spec(provider.storage, deadline=599.5))

    assert env["STORAGE_BASE"] == f"s3://{account.bucket}/{BASE}"
    assert env["STORAGE_ENDPOINT"] == account.endpoint
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")  # STS's temporary keys
    assert env["AWS_ACCESS_KEY_ID"] != account.server_key["access_key_id"]
    assert set(env) >= CREDENTIAL_KEYS
    assumed = sts_backends["123456789012"]["aws"].get_assumed_role_from_access_key(
        env["AWS_ACCESS_KEY_ID"]
    )
    assert assumed.role_arn == account.role_arn
    assert assumed.session_name == "nagelfluh-p3-v2"
    assert assumed.policy == policy_text(session_policy(account.bucket, f"{BASE}/", 7, 3, 2))
    lifetime = (assumed.expiration.replace(tzinfo=timezone.utc) - before).total_seconds()
    assert 2400 - 5 < lifetime <= 2400 + 5  # queue allowance + deadline, rounded up


def test_a_run_on_sts_credentials_reads_its_project_and_writes_its_version(account, tmp_path):
    """The whole chain: provider → executor environment → runner → S3 with a session token."""
    provider = _sts(account, sts_endpoint=account.endpoint)

    def run(spec: RunSpec) -> dict:
        spec_env = provider.for_run(spec)
        assert set(spec_env) >= CREDENTIAL_KEYS
        spec = dataclasses.replace(spec, storage_env=spec_env)
        result = subprocess.run(
            [sys.executable, "-m", "nagelfluh_runner", "run"],
            env=run_environment(spec, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == EXIT_OK, result.stderr
        key = spec.key
        return json.loads(
            server.read_bytes(f"7/processes/{key.process_id}/v{key.version}/_manifest.json")
        )

    server = provider.storage
    signal = run(
        _spec(
            server,
            1,
            1,
            process_type="synthetic-signal",
            parameters={"duration": 2, "components": [{"frequency": 10}]},
        )
    )
    path = signal["datasets"][0]["path"]
    run(
        _spec(
            server,
            2,
            1,
            process_type="fft",
            parameters={"signal": "dataset:1"},
            inputs={"1": {"key": path, "mime_type": "application/x-netcdf", "name": "s"}},
        )
    )
    assert server.list("7/") == [
        "7/processes/1/v1/_manifest.json",
        path,
        "7/processes/2/v1/_manifest.json",
        "7/processes/2/v1/spectrum.nc",
    ]


def test_a_run_on_sts_credentials_writes_a_zarr_store_and_the_next_reads_it(account, tmp_path):
    """A store is a prefix: writing one checks it is empty and reading one lists it, so a
    run's credentials must list its project (and nothing else) for stores to work."""
    provider = _sts(account, sts_endpoint=account.endpoint)
    server = provider.storage

    def run(process: int, process_type: str, parameters: dict, inputs: dict) -> None:
        spec = _spec(server, process, 1, process_type=process_type, parameters=parameters,
                     inputs=inputs)  # fmt: skip
        spec = dataclasses.replace(spec, storage_env=provider.for_run(spec))
        result = subprocess.run(
            [sys.executable, "-m", "nagelfluh_runner", "run"],
            env=run_environment(spec, tmp_path), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == EXIT_OK, result.stderr

    run(1, "synthetic-survey", {}, {})
    survey = {"1": {"key": "7/processes/1/v1/survey.nc", "mime_type": "application/x-netcdf",
                    "name": "survey.nc"}}  # fmt: skip
    run(2, "inversion", {"survey": "dataset:1", "output_format": "zarr"}, survey)
    store = "7/processes/2/v1/misfit.zarr/"
    assert "7/processes/2/v1/misfit.zarr/zarr.json" in server.list(store)
    misfit = {"2": {"key": store, "mime_type": "application/x-zarr", "name": "misfit.zarr"}}
    run(3, "inversion", {"survey": "dataset:2", "variable": "observed"}, misfit)

    assert "7/processes/3/v1/model.nc" in server.list("7/processes/3/")


def test_run_credentials_work_only_with_their_session_token(account, monkeypatch):
    provider = _sts(account, sts_endpoint=account.endpoint)
    env = provider.for_run(_spec(provider.storage))
    # The runner takes all three from its environment, as the executor sets it.
    for name in CREDENTIAL_KEYS:
        monkeypatch.setenv(name, env[name])
    runner_side = open_storage(env["STORAGE_BASE"], env["STORAGE_ENDPOINT"])
    runner_side.write_bytes("7/processes/3/v2/x", b"1")

    tokenless = open_storage(
        env["STORAGE_BASE"],
        env["STORAGE_ENDPOINT"],
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    with pytest.raises(ClientError, match=r"Invalid(AccessKeyId|Token)"):
        tokenless.write_bytes("7/processes/3/v2/x", b"2")
    # Keys given explicitly never borrow the run's token from the environment.
    assert account.storage().read_bytes("7/processes/3/v2/x") == b"1"


def test_a_role_the_server_may_not_assume_gives_a_credentials_error(account):
    provider = _sts(account, sts_endpoint=account.endpoint)
    provider.role_arn = account.role_arn + "-elsewhere"
    with pytest.raises(CredentialsError, match="no credentials for process-3-v2"):
        provider.for_run(_spec(provider.storage))


@pytest.mark.parametrize(
    ("allowance", "deadline", "expected"),
    [(0, 0.5, 900), (3600, 600, 4200), (3600, 600.2, 4201), (3600, 40000, 43200)],
)
def test_credentials_last_the_queue_allowance_plus_the_deadline_within_stss_range(
    account, allowance, deadline, expected
):
    provider = _sts(account, queue_allowance_seconds=allowance)
    assert provider.duration_for(_spec(provider.storage, deadline=deadline)) == expected


def test_max_duration_caps_credentials_at_the_roles_session_limit(account):
    provider = _sts(account, max_duration_seconds=3600)
    assert provider.duration_for(_spec(provider.storage, deadline=7200)) == 3600
    for wrong in (899, 43201):
        with pytest.raises(TraitError, match=r"900\.\.43200"):
            provider.max_duration_seconds = wrong


def test_sts_credentials_refuse_file_storage_a_missing_role_and_an_unfittable_prefix(
    account, tmp_path
):
    with pytest.raises(TraitError, match="needs s3:// storage"):
        StsCredentials(storage=open_storage(tmp_path.as_uri()), role_arn=account.role_arn)
    with pytest.raises(TraitError, match="role_arn is not set"):
        StsCredentials(storage=account.storage())
    with pytest.raises(SessionPolicyTooLarge):
        long_prefix = "/".join(["x" * 200] * 2)  # each segment a file name could be
        StsCredentials(storage=account.storage(long_prefix), role_arn=account.role_arn)


def test_static_credentials_hand_runs_the_servers_own_storage_environment(account, tmp_path):
    files = open_storage(tmp_path.as_uri())
    assert StaticCredentials(storage=files).for_run(_spec(files)) == {"STORAGE_BASE": files.url}
    s3 = account.storage()
    env = StaticCredentials(storage=s3).for_run(_spec(s3))
    assert env == s3.runner_env()
    assert env["AWS_ACCESS_KEY_ID"] == account.server_key["access_key_id"]
