"""A run's session policy: read the project, write only its own version, ≤ 2048 characters."""

from __future__ import annotations

import pytest

from nagelfluh_lab.credentials import (
    LONGEST_ID,
    MAX_SESSION_POLICY,
    SessionPolicyTooLarge,
    policy_text,
    session_policy,
)
from tests.storage.policy_eval import can_list, can_read, can_write, is_allowed

BUCKET = "lab-data"
POLICY = session_policy(BUCKET, "lab/", "p", 3, 2)


def _read(key: str) -> bool:
    return can_read(POLICY, BUCKET, "lab/" + key)


def _write(key: str) -> bool:
    return can_write(POLICY, BUCKET, "lab/" + key)


@pytest.mark.parametrize(
    "key",
    ["p/processes/9/v1/x.nc", "p/uploads/a.csv", "p/processes/3/v2/out.nc", "p/.hidden/a..b"],
)
def test_a_run_may_read_anything_in_its_project(key):
    assert _read(key)


@pytest.mark.parametrize(
    "key", ["other-project/uploads/a.csv", "p2/uploads/a.csv", "pp/x", "p", "other/p/x"]
)
def test_a_run_may_not_read_other_projects(key):
    assert not _read(key)


def test_a_run_may_not_read_outside_the_storage_prefix():
    assert not can_read(POLICY, BUCKET, "p/uploads/a.csv")
    assert not can_read(POLICY, "other-bucket", "lab/p/uploads/a.csv")


@pytest.mark.parametrize("key", ["p/processes/3/v2/out.nc", "p/processes/3/v2/deep/dir/x.bin"])
def test_a_run_may_write_under_its_own_version_prefix(key):
    assert _write(key)


@pytest.mark.parametrize(
    "key",
    [
        "p/processes/3/v1/out.nc",
        "p/processes/3/v20/out.nc",
        "p/processes/3/v2",
        "p/processes/31/v2/out.nc",
        "p/processes/3/out.nc",
        "p/uploads/a.csv",
        "p/x",
        "other-project/processes/3/v2/out.nc",
    ],
)
def test_a_run_may_not_write_anywhere_else(key):
    assert not _write(key)


@pytest.mark.parametrize(
    "key",
    [
        "p/processes/3/v2/../v1/out.nc",
        "p/processes/3/v2/../../../../other-project/x",
        "p/processes/3/v2/./out.nc",
        "p/processes/3/v2/..",
        "p/processes/3/v2/x/.",
    ],
)
def test_dot_segment_keys_are_denied_even_inside_the_version_prefix(key):
    assert not _write(key)
    assert not _read(key)


def test_multipart_uploads_may_be_managed_only_under_the_version_prefix():
    for action in ("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"):
        assert is_allowed(POLICY, action, f"arn:aws:s3:::{BUCKET}/lab/p/processes/3/v2/big.nc")
        assert not is_allowed(POLICY, action, f"arn:aws:s3:::{BUCKET}/lab/p/uploads/big.nc")


@pytest.mark.parametrize("action", ["s3:DeleteObject", "s3:PutObjectAcl", "s3:GetObjectAcl"])
def test_nothing_beyond_read_list_and_write_is_granted(action):
    assert not is_allowed(POLICY, action, f"arn:aws:s3:::{BUCKET}/lab/p/processes/3/v2/out.nc")


@pytest.mark.parametrize("prefix", ["lab/p/", "lab/p/uploads/", "lab/p/processes/9/v1/x"])
def test_a_run_may_list_its_project(prefix):
    assert can_list(POLICY, BUCKET, prefix)


@pytest.mark.parametrize("prefix", [None, "", "lab/", "lab/p", "lab/p2/", "lab/other/", "other/"])
def test_a_run_may_not_list_beyond_its_project(prefix):
    assert not can_list(POLICY, BUCKET, prefix)


def test_an_empty_storage_prefix_puts_projects_at_the_bucket_root():
    policy = session_policy(BUCKET, "", 7, 1, 1)
    assert can_read(policy, BUCKET, "7/uploads/a.csv")
    assert can_write(policy, BUCKET, "7/processes/1/v1/x")
    assert can_list(policy, BUCKET, "7/")
    assert not can_read(policy, BUCKET, "8/uploads/a.csv")
    assert session_policy(BUCKET, "lab", 7, 1, 1) == session_policy(BUCKET, "lab/", 7, 1, 1)


@pytest.mark.parametrize("prefix_length", [0, 50, 200])
def test_the_policy_fits_stss_limit_for_the_largest_ids_and_a_long_prefix(prefix_length):
    bucket = "b" * 63  # the longest bucket name S3 allows
    base = ("x" * prefix_length + "/") if prefix_length else ""
    policy = session_policy(bucket, base, LONGEST_ID, LONGEST_ID, LONGEST_ID)
    assert len(policy_text(policy)) <= MAX_SESSION_POLICY
    assert can_write(policy, bucket, f"{base}{LONGEST_ID}/processes/{LONGEST_ID}/v{LONGEST_ID}/o")


def test_the_compact_text_is_what_counts():
    assert policy_text(POLICY) == policy_text(POLICY).replace(" ", "")
    assert policy_text({"a": [1, 2]}) == '{"a":[1,2]}'


def test_a_prefix_too_long_for_any_policy_is_refused_with_the_reason():
    with pytest.raises(SessionPolicyTooLarge, match=r"more than STS's 2048.*storage_url"):
        session_policy(BUCKET, "x" * 400 + "/", 1, 1, 1)


@pytest.mark.parametrize("base", ["lab*/", "lab/?/", "lab/${aws:username}/"])
def test_prefixes_with_iam_wildcards_or_variables_are_refused(base):
    with pytest.raises(ValueError, match="special in IAM"):
        session_policy(BUCKET, base, 1, 1, 1)


@pytest.mark.parametrize(
    "ids", [("*", 1, 1), (1, "..", 1), (1, 1, "2/../3"), ("p q", 1, 1), ("", 1, 1)]
)
def test_ids_that_are_not_one_plain_segment_are_refused(ids):
    with pytest.raises(ValueError, match="must be letters, digits"):
        session_policy(BUCKET, "lab/", *ids)
