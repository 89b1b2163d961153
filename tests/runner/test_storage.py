"""Storage backends: keys never escape their base, writes stream, reads honour ranges."""

from __future__ import annotations

import io

import pytest
from nagelfluh_runner.storage import FileStorage, StorageKeyError, open_storage, safe_key

ESCAPING_KEYS = [
    "",
    "/etc/passwd",
    "../secrets",
    "7/../../secrets",
    "7/processes/./x",
    "7/.../x",
    "a\\b",
    "a\x00b",
    "C:/Windows",
    "c:relative",
    "///",
]


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_safe_key_refuses_keys_that_could_escape(key):
    with pytest.raises(StorageKeyError):
        safe_key(key)


def test_safe_key_refuses_a_segment_longer_than_a_file_name_can_be():
    with pytest.raises(StorageKeyError, match="255 bytes"):
        safe_key("7/uploads/" + "é" * 128)
    assert safe_key("7/uploads/" + "a" * 255)


def test_safe_key_collapses_repeated_and_trailing_slashes():
    assert safe_key("7//uploads/a.nc/") == "7/uploads/a.nc"
    assert safe_key("7/uploads/.hidden") == "7/uploads/.hidden"


def test_open_storage_refuses_unknown_schemes_and_relative_paths():
    with pytest.raises(ValueError, match="unsupported storage URL"):
        open_storage("ftp://host/x")
    with pytest.raises(ValueError, match="absolute"):
        open_storage("file://relative/dir")


@pytest.fixture
def files(tmp_path) -> FileStorage:
    return open_storage(f"file://{tmp_path}/store")


def test_file_storage_round_trips_bytes_and_creates_directories(files):
    assert files.write_bytes("7/uploads/deep/a.bin", b"0123456789") == 10
    assert files.read_bytes("7/uploads/deep/a.bin") == b"0123456789"
    assert files.size("7/uploads/deep/a.bin") == 10
    assert files.exists("7/uploads/deep/a.bin")
    assert not files.exists("7/uploads/deep/b.bin")


def test_file_storage_reads_byte_ranges(files):
    files.write_bytes("k", bytes(range(100)))
    with files.open_read("k", 10, 20) as reader:
        assert reader.read() == bytes(range(10, 20))
    with files.open_read("k", 95) as reader:
        assert reader.read() == bytes(range(95, 100))
    with files.open_read("k", 90, 1000) as reader:
        assert reader.read(4) + reader.read() == bytes(range(90, 100))
    with pytest.raises(ValueError):
        files.open_read("k", 20, 10)


def test_file_storage_missing_key_raises_file_not_found(files):
    with pytest.raises(FileNotFoundError):
        files.size("nope")
    with pytest.raises(FileNotFoundError):
        files.open_read("nope")
    files.delete("nope")


class _FailingReader:
    def __init__(self) -> None:
        self.calls = 0

    def read(self, n: int = -1) -> bytes:
        self.calls += 1
        if self.calls > 2:
            raise OSError("network went away")
        return b"x" * 1000


def test_failed_file_write_leaves_the_old_object_and_no_temporary_file(files, tmp_path):
    files.write_bytes("7/a", b"old")
    with pytest.raises(OSError, match="network"):
        files.write_stream("7/a", _FailingReader())
    assert files.read_bytes("7/a") == b"old"
    assert [p.name for p in (tmp_path / "store" / "7").iterdir()] == ["a"]


def test_file_storage_lists_by_string_prefix_and_deletes(files):
    for key in ("7/uploads/a", "7/uploads/b", "7/processes/1/v1/x", "8/uploads/a"):
        files.write_bytes(key, b"1")
    assert files.list("7/uploads/") == ["7/uploads/a", "7/uploads/b"]
    assert files.list("7/") == ["7/processes/1/v1/x", "7/uploads/a", "7/uploads/b"]
    assert files.list("7/up") == ["7/uploads/a", "7/uploads/b"]
    assert files.list("9/") == []
    files.delete("7/uploads/a")
    assert files.list("7/uploads") == ["7/uploads/b"]
    with pytest.raises(StorageKeyError):
        files.list("../")


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_file_storage_refuses_escaping_keys_for_every_operation(files, key):
    for call in (
        lambda: files.write_bytes(key, b"x"),
        lambda: files.read_bytes(key),
        lambda: files.size(key),
        lambda: files.delete(key),
    ):
        with pytest.raises(StorageKeyError):
            call()


@pytest.mark.parametrize("link", ["7/processes/1/v1/copy.bin", "7/processes/1/v1/dir"])
def test_file_storage_never_reads_through_a_symbolic_link(files, tmp_path, link):
    """A run may plant links in its own prefix; reading its outputs must not follow them."""
    files.write_bytes("8/uploads/secret.bin", b"secret")
    files.write_bytes("7/processes/1/v1/real.bin", b"mine")
    target = tmp_path / "store" / "8" / "uploads"
    (tmp_path / "store" / link).symlink_to(
        target / "secret.bin" if link.endswith(".bin") else target)
    key = link if link.endswith(".bin") else link + "/secret.bin"

    for call in (lambda: files.read_bytes(key), lambda: files.size(key),
                 lambda: files.open_read(key, 1, 3)):
        with pytest.raises(StorageKeyError, match="symbolic link"):
            call()
    assert files.read_bytes("7/processes/1/v1/real.bin") == b"mine"


def test_file_storage_runner_env_names_its_url(files, tmp_path):
    assert files.runner_env() == {"STORAGE_BASE": f"file://{tmp_path}/store"}


class _ChunkedSource:
    """A stream that can only be read piecewise, like a request body."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.remaining = total
        self.chunk = chunk
        self.largest_request = 0

    def read(self, n: int = -1) -> bytes:
        self.largest_request = max(self.largest_request, n)
        size = min(self.remaining, self.chunk if n < 0 else min(n, self.chunk))
        self.remaining -= size
        return bytes([size % 251]) * size


def test_s3_write_streams_in_multipart_chunks(s3_storage):
    source = _ChunkedSource(12 * 1024 * 1024 + 123)
    s3_storage.multipart_chunksize = 5 * 1024 * 1024
    assert s3_storage.write_stream("7/uploads/big.bin", source) == 12 * 1024 * 1024 + 123
    assert s3_storage.size("7/uploads/big.bin") == 12 * 1024 * 1024 + 123
    assert source.largest_request <= 5 * 1024 * 1024
    head = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key="base/7/uploads/big.bin")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: it never held it whole


def test_s3_reads_byte_ranges_with_range_requests(s3_storage):
    data = bytes(range(256)) * 4
    s3_storage.write_bytes("7/k", data)
    with s3_storage.open_read("7/k", 100, 300) as reader:
        assert reader.read() == data[100:300]
    with s3_storage.open_read("7/k", 1000) as reader:
        assert reader.read() == data[1000:]
    assert s3_storage.open_read("7/k", 5, 5).read() == b""
    assert s3_storage.open_read("7/k", 5000).read() == b""
    assert s3_storage.read_bytes("7/k") == data


def test_s3_lists_deletes_and_reports_missing_keys(s3_storage):
    s3_storage.write_bytes("7/uploads/a", b"1")
    s3_storage.write_bytes("7/uploads/b", b"22")
    s3_storage.write_bytes("8/uploads/c", b"3")
    assert s3_storage.list("7/") == ["7/uploads/a", "7/uploads/b"]
    s3_storage.delete("7/uploads/a")
    assert not s3_storage.exists("7/uploads/a")
    assert s3_storage.exists("7/uploads/b")
    with pytest.raises(FileNotFoundError):
        s3_storage.size("7/uploads/a")
    with pytest.raises(FileNotFoundError):
        s3_storage.open_read("7/uploads/a")


def test_s3_keys_stay_under_the_url_prefix(s3_storage):
    s3_storage.write_bytes("7/x", b"1")
    objects = s3_storage.client.list_objects_v2(Bucket=s3_storage.bucket)["Contents"]
    assert [o["Key"] for o in objects] == ["base/7/x"]
    for key in ESCAPING_KEYS:
        with pytest.raises(StorageKeyError):
            s3_storage.write_bytes(key, b"x")


def test_s3_open_write_stores_only_on_success(s3_storage):
    with s3_storage.open_write("7/ok") as handle:
        handle.write(b"done")
    with pytest.raises(RuntimeError), s3_storage.open_write("7/broken") as handle:
        handle.write(b"half")
        raise RuntimeError("process died")
    assert s3_storage.read_bytes("7/ok") == b"done"
    assert not s3_storage.exists("7/broken")


def test_s3_runner_env_carries_endpoint_and_credentials(s3_storage, moto_endpoint):
    env = s3_storage.runner_env()
    assert env["STORAGE_BASE"] == f"s3://{s3_storage.bucket}/base"
    assert env["STORAGE_ENDPOINT"] == moto_endpoint
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"


def test_bytes_io_writes_report_their_size(files, s3_storage):
    for storage in (files, s3_storage):
        assert storage.write_stream("7/s", io.BytesIO(b"abc")) == 3
