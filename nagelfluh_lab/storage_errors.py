"""Storage faults as API errors: a full disk is 507, anything else storage refuses or
cannot be reached for is 503, each naming the cause, never a 500 with a traceback."""

from __future__ import annotations

import errno

from .errors import ApiError, InsufficientStorage, StorageUnavailable

RETRY_AFTER_SECONDS = 30
FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# S3 error codes that mean "no room" (quota, or the object is too large for it).
S3_FULL = {"EntityTooLarge", "QuotaExceeded", "XMinioStorageFull", "InsufficientStorage"}


def is_storage_fault(error: BaseException) -> bool:
    """Whether ``error`` came from storage itself (a file system's or S3's), not a bug."""
    return isinstance(error, OSError) or type(error).__module__.startswith("botocore")


def storage_error(error: BaseException, doing: str) -> ApiError:
    """The API error for a storage fault ``error``, raised while ``doing`` something."""
    if isinstance(error, OSError) and error.errno in FULL:
        return InsufficientStorage(f"{doing}: storage is full ({error.strerror})", None)
    code = getattr(error, "response", {}).get("Error", {}).get("Code")
    if code in S3_FULL:
        return InsufficientStorage(f"{doing}: storage is full ({code})", None)
    cause = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return StorageUnavailable(
        f"{doing}: storage refused it ({cause or type(error).__name__})",
        {"retry_after": RETRY_AFTER_SECONDS},
    )
