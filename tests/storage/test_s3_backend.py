"""The S3 backend end to end on a run's STS credentials: streamed multipart writes, Range
reads, and missing keys told apart from forbidden ones."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError
from nagelfluh_runner.storage import open_storage

from nagelfluh_lab.credentials import StsCredentials
from nagelfluh_lab.executors.base import RunKey, RunSpec

MiB = 1 << 20
SIZE = 17 * MiB + 12345  # three parts of the backend's 8 MiB
_PATTERN = bytes(range(251)) * (MiB // 251 + 2)  # a prime period, so no part repeats another


def _expected(start: int, end: int) -> bytes:
    """Bytes [start, end) of the generated object: byte i is i % 251."""
    out = bytearray()
    while start < end:
        take = min(end - start, MiB)
        out += _PATTERN[start % 251 : start % 251 + take]
        start += take
    return bytes(out)


class GeneratedFile:
    """A read-only file whose bytes are made on demand, so the whole never exists at once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.offset = 0
        self.largest_read = 0

    def read(self, n: int = -1) -> bytes:
        n = MiB if n is None or n < 0 else min(n, MiB)  # short reads, like a socket
        data = _expected(self.offset, min(self.offset + n, self.size))
        self.offset += len(data)
        self.largest_read = max(self.largest_read, len(data))
        return data


@pytest.fixture
def run_storage(account, monkeypatch):
    """Storage opened as the runner opens it: from the environment the run receives."""
    provider = StsCredentials(
        storage=account.storage(), role_arn=account.role_arn, sts_endpoint=account.endpoint
    )
    spec = RunSpec(RunKey(3, 2), 7, "sleep", {}, {}, 1.0, 2**30, 600.0, provider.storage.url)
    env = provider.for_run(spec)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return open_storage(env["STORAGE_BASE"], env["STORAGE_ENDPOINT"])


def test_a_large_object_is_written_in_streamed_parts_and_read_back_in_ranges(run_storage):
    key = "7/processes/3/v2/big.bin"
    source = GeneratedFile(SIZE)
    assert run_storage.write_stream(key, source) == SIZE
    assert source.largest_read <= MiB
    head = run_storage.client.head_object(Bucket=run_storage.bucket, Key="lab/" + key)
    assert head["ContentLength"] == SIZE
    assert head["ETag"].strip('"').endswith("-3")  # uploaded as three parts

    boundary = run_storage.multipart_chunksize
    for start, end in [(0, 100), (boundary - 50, boundary + 50), (SIZE - 10, SIZE)]:
        with run_storage.open_read(key, start, end) as reader:
            assert reader.read() == _expected(start, end)
    with run_storage.open_read(key, SIZE - 7) as reader:
        assert reader.read() == _expected(SIZE - 7, SIZE)

    digest, total = hashlib.sha256(), 0
    with run_storage.open_read(key) as reader:
        while chunk := reader.read(MiB):
            digest.update(chunk)
            total += len(chunk)
    assert total == SIZE
    assert digest.hexdigest() == hashlib.sha256(_expected(0, SIZE)).hexdigest()


def test_a_failed_streamed_write_stores_nothing(account, run_storage):
    class Broken(GeneratedFile):
        def read(self, n: int = -1) -> bytes:
            if self.offset >= 9 * MiB:
                raise OSError("the request body ended early")
            return super().read(n)

    with pytest.raises(OSError, match="ended early"):
        run_storage.write_stream("7/processes/3/v2/half.bin", Broken(SIZE))
    assert not run_storage.exists("7/processes/3/v2/half.bin")
    server = account.storage().client  # listing uploads is beyond the run's role
    uploads = server.list_multipart_uploads(Bucket=account.bucket)
    assert uploads.get("Uploads", []) == []  # aborted, no parts left behind


def test_a_missing_key_answered_with_403_is_reported_missing(account, run_storage):
    """Without unconditional s3:ListBucket, S3 answers a missing key with 403; the role here
    may list the bucket but not read beyond the storage prefix, which moto enforces."""
    account.storage("elsewhere").write_bytes("present", b"1")
    outside = open_storage(f"s3://{account.bucket}/elsewhere", account.endpoint)
    assert outside.credentials == run_storage.credentials  # the run's, from the environment
    assert not outside.exists("absent")
    with pytest.raises(FileNotFoundError):
        outside.open_read("absent")
    with pytest.raises(ClientError, match=r"\(403\)"):
        outside.size("present")
    with pytest.raises(ClientError, match="AccessDenied"):
        outside.open_read("present")
