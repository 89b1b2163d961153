"""The evaluator judges hand-made policies as IAM would, so it cannot pass everything."""

from __future__ import annotations

import pytest

from tests.storage.policy_eval import UnsupportedPolicy, can_list, can_read, can_write, is_allowed


def _policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: str | list[str], resource: str | list[str], **extra: dict) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_an_empty_policy_denies_everything():
    policy = _policy()
    assert not can_read(policy, "b", "k")
    assert not can_write(policy, "b", "k")
    assert not can_list(policy, "b", "")


def test_action_wildcards_match_case_insensitively_and_only_what_they_name():
    policy = _policy(_allow("s3:*Object", "arn:aws:s3:::b/*"))
    assert can_read(policy, "b", "k")
    assert can_write(policy, "b", "k")
    assert is_allowed(policy, "S3:getobject", "arn:aws:s3:::b/k")
    assert not is_allowed(policy, "s3:GetObjectAcl", "arn:aws:s3:::b/k")
    assert not can_list(policy, "b", "")


def test_resource_wildcards_cross_slashes_but_match_case_sensitively():
    policy = _policy(_allow("s3:GetObject", ["arn:aws:s3:::b/p/*", "arn:aws:s3:::b/v?/x"]))
    assert can_read(policy, "b", "p/deep/down/k")
    assert can_read(policy, "b", "v1/x")
    assert not can_read(policy, "b", "v10/x")
    assert not can_read(policy, "b", "P/k")
    assert not can_read(policy, "b", "p")
    assert not can_read(policy, "other", "p/k")
    assert not can_read(policy, "b", "q/p/k")


def test_regex_characters_in_resources_are_literal():
    policy = _policy(_allow("s3:GetObject", "arn:aws:s3:::b/a.b+c/*"))
    assert can_read(policy, "b", "a.b+c/k")
    assert not can_read(policy, "b", "aXb+c/k")
    assert not can_read(policy, "b", "a.bbc/k")


def test_an_explicit_deny_wins_over_any_allow():
    policy = _policy(
        _allow("s3:*", "*"),
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/locked/*"},
    )
    assert can_write(policy, "b", "open/k")
    assert not can_write(policy, "b", "locked/k")
    assert can_read(policy, "b", "locked/k")


def test_string_like_conditions_need_their_key_and_one_matching_value():
    policy = _policy(
        _allow(
            "s3:ListBucket",
            "arn:aws:s3:::b",
            Condition={"StringLike": {"s3:prefix": ["p/*", "q?"]}},
        )
    )
    assert can_list(policy, "b", "p/")
    assert can_list(policy, "b", "p/uploads/")
    assert can_list(policy, "b", "q1")
    assert not can_list(policy, "b", "q")
    assert not can_list(policy, "b", "P/")
    assert not can_list(policy, "b", "")
    assert not can_list(policy, "b", None)
    assert is_allowed(policy, "s3:ListBucket", "arn:aws:s3:::b", {"S3:Prefix": "p/"})


def test_every_condition_key_must_hold():
    policy = _policy(
        _allow(
            "s3:ListBucket",
            "arn:aws:s3:::b",
            Condition={"StringLike": {"s3:prefix": "p/*", "s3:delimiter": "/"}},
        )
    )
    both = {"s3:prefix": "p/", "s3:delimiter": "/"}
    assert is_allowed(policy, "s3:ListBucket", "arn:aws:s3:::b", both)
    assert not can_list(policy, "b", "p/")


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/x"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*"},
        _allow("s3:ListBucket", "*", Condition={"StringEquals": {"s3:prefix": "p/"}}),
        {"Effect": "Maybe", "Action": "s3:*", "Resource": "*"},
    ],
)
def test_features_outside_the_modelled_subset_are_refused(statement):
    with pytest.raises(UnsupportedPolicy):
        is_allowed(_policy(statement), "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "p/"})


def test_only_the_current_policy_language_version_is_judged():
    with pytest.raises(UnsupportedPolicy):
        can_read({"Version": "2008-10-17", "Statement": []}, "b", "k")
