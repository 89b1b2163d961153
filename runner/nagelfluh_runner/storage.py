"""URL-addressed storage shared by the runner and the server (DESIGN §4).

Two backends behind one interface: ``file:///abs/path`` and ``s3://bucket/prefix``.
Every key goes through :func:`safe_key`, so no caller can escape the base URL.
The module imports only what ``python -c pass`` already has loaded (and the
built-in errno): the runner
opens storage on every process start, and boto3 is imported only by S3Storage.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Iterator
    from types import TracebackType
    from typing import Any, BinaryIO

    from _typeshed import SupportsRead
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import GetObjectRequestTypeDef
    from typing_extensions import Protocol, Self

    class ByteReader(Protocol):
        """What ``open_read`` gives: a streaming reader of bytes, closed by ``with`` (an
        open file, a range of one, or an S3 body, which cannot seek)."""

        def read(self, size: int = -1, /) -> bytes: ...
        def close(self) -> None: ...
        def __enter__(self) -> Self: ...
        def __exit__(
            self,
            exc_type: type[BaseException] | None,
            exc: BaseException | None,
            tb: TracebackType | None,
            /,
        ) -> None: ...


_CHUNK = 1 << 20
_TMP_PREFIX = ".nagelfluh-tmp-"
_MAX_KEY_BYTES = 1024  # S3's limit; file storage keeps the same so keys move freely
_MAX_SEGMENT_BYTES = 255  # a file name's limit (NAME_MAX); S3 keeps it so keys move freely


class StorageKeyError(ValueError):
    """A key that would escape its prefix or is not a plain relative path."""


def safe_key(key: object) -> str:
    """Normalise a relative key (collapsing ``//``) or refuse it with StorageKeyError."""
    if not isinstance(key, str) or not key:
        raise StorageKeyError("empty storage key")
    if "\\" in key or "\x00" in key:
        raise StorageKeyError(f"storage key {key!r} contains a backslash or NUL")
    if key.startswith("/"):
        raise StorageKeyError(f"storage key {key!r} is absolute")
    if len(key) >= 2 and key[1] == ":" and key[0].isalpha():
        raise StorageKeyError(f"storage key {key!r} starts with a drive letter")
    parts = [part for part in key.split("/") if part]
    if not parts:
        raise StorageKeyError(f"storage key {key!r} names no object")
    for part in parts:
        if not part.strip("."):
            raise StorageKeyError(f"storage key {key!r} has a {part!r} segment")
        if len(part.encode()) > _MAX_SEGMENT_BYTES:
            raise StorageKeyError(f"storage key has a segment over {_MAX_SEGMENT_BYTES} bytes")
    normal = "/".join(parts)
    if len(normal.encode()) > _MAX_KEY_BYTES:
        raise StorageKeyError(f"storage key is longer than {_MAX_KEY_BYTES} bytes")
    return normal


def safe_prefix(prefix: str) -> str:
    """A listing prefix: ``''`` for everything, else a safe key keeping a trailing ``/``."""
    if prefix == "":
        return ""
    normal = safe_key(prefix)
    return normal + "/" if prefix.endswith("/") else normal


def _check_range(start: int, end: int | None) -> None:
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range [{start}, {end})")


class Storage:
    """The interface both backends implement; keys are relative to ``url``."""

    url: str
    # How many objects of one output (a store's files) may be written at once: a
    # local disk gains nothing from more, an object store hides its latency so.
    write_concurrency = 1

    def open_read(self, key: str, start: int = 0, end: int | None = None) -> ByteReader:
        """A streaming reader of bytes ``[start, end)`` of ``key`` (end clamped to the size)."""
        raise NotImplementedError

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as reader:
            return reader.read()

    def write_stream(self, key: str, fileobj: SupportsRead[bytes]) -> int:
        """Store everything ``fileobj`` yields under ``key`` without holding it in memory."""
        raise NotImplementedError

    def write_bytes(self, key: str, data: bytes) -> int:
        import io

        return self.write_stream(key, io.BytesIO(data))

    def open_write(self, key: str) -> PendingWrite:
        """A writable file for ``key``; it is stored when the ``with`` block ends cleanly.

        The default spools to a local temporary file (disk, not memory), then streams it.
        """
        import tempfile

        key = safe_key(key)
        return PendingWrite(tempfile.TemporaryFile(), lambda handle: self._commit(key, handle))

    def _commit(self, key: str, handle: BinaryIO) -> int:
        handle.seek(0)
        return self.write_stream(key, handle)

    def size(self, key: str) -> int:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except FileNotFoundError:
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix`` (a plain string prefix, as on S3), sorted."""
        raise NotImplementedError

    def list_sizes(self, prefix: str) -> builtins.list[tuple[str, int]]:
        """``(key, size)`` of every key starting with ``prefix``, sorted by key."""
        return [(key, self.size(key)) for key in self.list(prefix)]

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error (as on S3)."""
        raise NotImplementedError

    def remove_partial(self, prefix: str, before: float) -> int:
        """Remove what writes under ``prefix`` begun before ``before`` (epoch seconds)
        left half-done when their writer died; returns how many. A write is never
        visible under its key until complete, so only this space is reclaimed."""
        raise NotImplementedError

    def runner_env(self) -> dict[str, str]:
        """The environment a job needs to open this same storage."""
        return {"STORAGE_BASE": self.url}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class PendingWrite:
    """Context manager around a writable handle that is committed only on success."""

    def __init__(
        self,
        handle: BinaryIO,
        commit: Callable[[BinaryIO], int],
        discard: Callable[[BinaryIO], None] | None = None,
    ) -> None:
        self.handle = handle
        self._commit = commit
        self._discard = discard
        self.size = 0

    def __enter__(self) -> BinaryIO:
        return self.handle

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.size = self._commit(self.handle)
            elif self._discard is not None:
                self._discard(self.handle)
        finally:
            self.handle.close()


class _RangeReader:
    """A file object that stops after ``remaining`` bytes, for ranged reads of local files."""

    def __init__(self, raw: BinaryIO, remaining: int) -> None:
        self._raw = raw
        self._remaining = remaining

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0 or n > self._remaining:
            n = self._remaining
        data = self._raw.read(n)
        self._remaining -= len(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _RangeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileStorage(Storage):
    """Storage in a local directory; writes land atomically (temporary file + rename)."""

    def __init__(self, url: str) -> None:
        if not url.startswith("file://"):
            raise ValueError(f"not a file:// URL: {url!r}")
        path = url[len("file://") :]
        if path.startswith("localhost/"):
            path = path[len("localhost") :]
        if "%" in path:
            from urllib.parse import unquote

            path = unquote(path)
        if not path.startswith("/"):
            raise ValueError(f"file storage needs an absolute path: {url!r}")
        self.root = os.path.normpath(path)
        self.url = "file://" + self.root

    def path(self, key: str) -> str:
        """The local path of ``key`` (the server may hand it to a local reader)."""
        return os.path.join(self.root, safe_key(key))

    def _open_plain(self, key: str) -> int:
        """A descriptor of ``key`` reached through no symbolic link, the last part
        included: a run may plant links in its own prefix, and whoever reads its
        outputs later (the server, another run) must not be led out of it."""
        parts = safe_key(key).split("/")
        directory = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        plain = os.O_RDONLY | os.O_NOFOLLOW
        try:
            for part in parts[:-1]:
                inner = os.open(part, plain | os.O_DIRECTORY, dir_fd=directory)
                os.close(directory)
                directory = inner
            return os.open(parts[-1], plain, dir_fd=directory)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR) and self._through_link(parts):
                raise StorageKeyError(f"{key!r} passes through a symbolic link") from None
            raise
        finally:
            os.close(directory)

    def _through_link(self, parts: list[str]) -> bool:
        path = self.root
        for part in parts:
            path = os.path.join(path, part)
            if os.path.islink(path):
                return True
        return False

    def open_read(self, key: str, start: int = 0, end: int | None = None) -> ByteReader:
        _check_range(start, end)
        fd = self._open_plain(key)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise IsADirectoryError(key)
        handle = os.fdopen(fd, "rb")  # the caller closes it
        if start:
            handle.seek(start)
        if end is None:
            return handle
        return _RangeReader(handle, end - start)

    def _temporary(self, key: str) -> tuple[str, BinaryIO]:
        target = self.path(key)
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        temp = os.path.join(directory, f"{_TMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        return temp, os.fdopen(fd, "wb")

    def write_stream(self, key: str, fileobj: SupportsRead[bytes]) -> int:
        pending = self.open_write(key)
        with pending as handle:
            while chunk := fileobj.read(_CHUNK):
                handle.write(chunk)
        return pending.size

    def open_write(self, key: str) -> PendingWrite:
        target = self.path(key)
        temp, handle = self._temporary(key)

        def commit(handle: BinaryIO) -> int:
            handle.flush()
            size = handle.tell()
            os.replace(temp, target)
            return size

        def discard(handle: BinaryIO) -> None:
            os.unlink(temp)

        return PendingWrite(handle, commit, discard)

    def size(self, key: str) -> int:
        fd = self._open_plain(key)
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileNotFoundError(key)
        return info.st_size

    def list(self, prefix: str) -> list[str]:
        prefix = safe_prefix(prefix)
        base = prefix.rpartition("/")[0]
        top = os.path.join(self.root, base) if base else self.root
        keys = []
        for directory, subdirs, files in os.walk(top):
            subdirs.sort()
            relative = os.path.relpath(directory, self.root)
            for name in files:
                if name.startswith(_TMP_PREFIX):
                    continue
                key = name if relative == "." else f"{relative}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        try:
            os.unlink(self.path(key))
        except FileNotFoundError:
            pass

    def remove_partial(self, prefix: str, before: float) -> int:
        top = os.path.join(self.root, safe_prefix(prefix).rpartition("/")[0])
        removed = 0
        for directory, _, files in os.walk(top):
            for name in files:
                path = os.path.join(directory, name)
                if name.startswith(_TMP_PREFIX) and os.lstat(path).st_mtime < before:
                    os.unlink(path)
                    removed += 1
        return removed


class _FullReader:
    """Fills every read and counts the bytes, for boto3's upload_fileobj.

    s3transfer takes a short read of a non-seekable stream for its end, but
    sockets and request bodies return short reads all the time.
    """

    def __init__(self, raw: SupportsRead[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            data = b"".join(iter(lambda: self._raw.read(_CHUNK), b""))
        else:
            parts = []
            wanted = n
            while wanted > 0 and (part := self._raw.read(wanted)):
                parts.append(part)
                wanted -= len(part)
            data = b"".join(parts)
        self.count += len(data)
        return data


_S3_MISSING = {"NoSuchKey", "404", "NotFound"}
_S3_FORBIDDEN = {"AccessDenied", "403", "Forbidden"}


class S3Storage(Storage):
    """Storage in an S3 bucket (AWS, MinIO, GCS interop); boto3 is imported on first use."""

    write_concurrency = 8

    def __init__(
        self,
        url: str,
        endpoint: str | None = None,
        *,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        region: str | None = None,
        multipart_chunksize: int = 8 * _CHUNK,
    ) -> None:
        if not url.startswith("s3://"):
            raise ValueError(f"not an s3:// URL: {url!r}")
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"s3 URL without a bucket: {url!r}")
        self.bucket = bucket
        self.base = safe_key(prefix) + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.base}".rstrip("/")
        self.endpoint = endpoint or None
        env = os.environ
        # Keys given here come with their own token or none: an ambient AWS_SESSION_TOKEN
        # (a run's, the server's) belongs to other keys and would make every request fail.
        keys = {} if access_key_id else env
        self.credentials = {
            "AWS_ACCESS_KEY_ID": access_key_id or keys.get("AWS_ACCESS_KEY_ID"),
            "AWS_SECRET_ACCESS_KEY": secret_access_key or keys.get("AWS_SECRET_ACCESS_KEY"),
            "AWS_SESSION_TOKEN": session_token or keys.get("AWS_SESSION_TOKEN"),
            "AWS_DEFAULT_REGION": region or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        }
        self.multipart_chunksize = multipart_chunksize
        self._client: S3Client | None = None
        import threading

        self._client_lock = threading.Lock()  # a store's objects are written from threads

    @property
    def client(self) -> S3Client:
        client = self._client
        if client is not None:
            return client
        with self._client_lock:
            if self._client is None:  # unless another thread made it meanwhile
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> S3Client:
        import boto3
        from botocore.config import Config

        creds = self.credentials
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=creds["AWS_SESSION_TOKEN"],
            region_name=creds["AWS_DEFAULT_REGION"],
            # Custom endpoints (MinIO, moto, GCS interop) want path-style addressing.
            config=Config(s3={"addressing_style": "path" if self.endpoint else "auto"}),
        )

    def _key(self, key: str) -> str:
        return self.base + safe_key(key)

    def _missing(self, error: Exception, key: str) -> bool:
        """Whether ``error`` means ``key`` does not exist.

        S3 answers a missing key with 403, not 404, to whoever may not list the
        bucket unconditionally, as a run whose session policy lists only under
        an ``s3:prefix`` condition: then a listing tells.
        """
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        return code in _S3_MISSING or (code in _S3_FORBIDDEN and self._listed_absent(key))

    def _listed_absent(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        full = self._key(key)
        try:
            # A key sorts before every longer key it prefixes, so one entry answers.
            page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=full, MaxKeys=1)
        except ClientError:
            return False
        return all(item["Key"] != full for item in page.get("Contents", ()))

    def open_read(self, key: str, start: int = 0, end: int | None = None) -> ByteReader:
        _check_range(start, end)
        from botocore.exceptions import ClientError

        request: GetObjectRequestTypeDef = {"Bucket": self.bucket, "Key": self._key(key)}
        if end is not None and end == start:
            self.size(key)
            import io

            return io.BytesIO(b"")
        if start or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            return self.client.get_object(**request)["Body"]
        except ClientError as error:
            if self._missing(error, key):
                raise FileNotFoundError(key) from error
            if error.response.get("Error", {}).get("Code") == "InvalidRange":
                import io

                return io.BytesIO(b"")
            raise

    def write_stream(self, key: str, fileobj: SupportsRead[bytes]) -> int:
        from boto3.s3.transfer import TransferConfig

        counter = _FullReader(fileobj)
        config = TransferConfig(
            multipart_threshold=self.multipart_chunksize,
            multipart_chunksize=self.multipart_chunksize,
        )
        # The stubs ask for an IO; boto3 documents (and s3transfer uses) read() alone.
        self.client.upload_fileobj(counter, self.bucket, self._key(key), Config=config)  # type: ignore[arg-type]
        return counter.count

    def size(self, key: str) -> int:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if self._missing(error, key):
                raise FileNotFoundError(key) from error
            raise
        return int(head["ContentLength"])

    def _iter_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.base + prefix):
            for item in page.get("Contents", ()):
                yield item["Key"][len(self.base) :]

    def list(self, prefix: str) -> list[str]:
        return sorted(self._iter_keys(safe_prefix(prefix)))

    def list_sizes(self, prefix: str) -> builtins.list[tuple[str, int]]:
        """One listing gives the sizes too: no request per key."""
        paginator = self.client.get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.base + safe_prefix(prefix)):
            for item in page.get("Contents", ()):
                found.append((item["Key"][len(self.base) :], int(item["Size"])))
        return sorted(found)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def remove_partial(self, prefix: str, before: float) -> int:
        """Aborts the multipart uploads begun before ``before``: their parts are
        stored (and billed) until aborted, though no object shows them."""
        paginator = self.client.get_paginator("list_multipart_uploads")
        removed = 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.base + safe_prefix(prefix)):
            for upload in page.get("Uploads", ()):
                if upload["Initiated"].timestamp() < before:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    removed += 1
        return removed

    def runner_env(self) -> dict[str, str]:
        env = {"STORAGE_BASE": self.url}
        if self.endpoint:
            env["STORAGE_ENDPOINT"] = self.endpoint
        env.update({name: value for name, value in self.credentials.items() if value})
        return env


def open_storage(url: str, endpoint: str | None = None, **options: Any) -> Storage:
    """The backend for ``url``: ``file:///abs/path`` or ``s3://bucket/prefix``."""
    if url.startswith("file://"):
        if endpoint or options:
            raise ValueError("file storage takes no endpoint or options")
        return FileStorage(url)
    if url.startswith("s3://"):
        return S3Storage(url, endpoint, **options)
    raise ValueError(f"unsupported storage URL {url!r}: use file:///abs/path or s3://bucket/prefix")
