"""A small IAM policy evaluator, because moto ignores session policies and ``s3:prefix``.

It follows AWS for the subset session policies here use: Allow and Deny
statements (an explicit Deny wins; what no statement allows is denied); Action
matched case-insensitively and Resource case-sensitively, both with ``*`` (any
run of characters, ``/`` included) and ``?`` (one character); ``Condition``
with ``StringLike`` only (values of one key OR'd, keys AND'd, a key absent from
the request fails). Anything else raises UnsupportedPolicy, so a policy outside
the subset is never judged by guesswork.
"""

from __future__ import annotations

import re

_STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition"}


class UnsupportedPolicy(ValueError):
    """The policy uses IAM features this evaluator does not model."""


def _values(element: str | list[str]) -> list[str]:
    return [element] if isinstance(element, str) else list(element)


def _matches(pattern: str, value: str, *, ignore_case: bool) -> bool:
    if "${" in pattern:
        raise UnsupportedPolicy(f"policy variable in {pattern!r}")
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def _any_matches(patterns: str | list[str], value: str, *, ignore_case: bool) -> bool:
    return any(_matches(p, value, ignore_case=ignore_case) for p in _values(patterns))


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    # Condition key names are case-insensitive; their values here are not.
    request = {key.lower(): value for key, value in context.items()}
    for operator, entries in condition.items():
        if operator != "StringLike":
            raise UnsupportedPolicy(f"condition operator {operator}")
        for key, patterns in entries.items():
            value = request.get(key.lower())
            if value is None or not _any_matches(patterns, value, ignore_case=False):
                return False
    return True


def is_allowed(
    policy: dict, action: str, resource: str, context: dict[str, str] | None = None
) -> bool:
    """Whether ``policy`` lets a request do ``action`` on ``resource`` with ``context``."""
    if policy.get("Version") != "2012-10-17":
        raise UnsupportedPolicy(f"policy version {policy.get('Version')!r}")
    statements = policy["Statement"]
    allowed = False
    for statement in [statements] if isinstance(statements, dict) else statements:
        unknown = set(statement) - _STATEMENT_KEYS
        if unknown or statement.get("Effect") not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"statement {statement}")
        if not (
            _any_matches(statement["Action"], action, ignore_case=True)
            and _any_matches(statement["Resource"], resource, ignore_case=False)
            and _condition_holds(statement.get("Condition", {}), context or {})
        ):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def can_read(policy: dict, bucket: str, key: str) -> bool:
    return is_allowed(policy, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")


def can_write(policy: dict, bucket: str, key: str) -> bool:
    return is_allowed(policy, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")


def can_list(policy: dict, bucket: str, prefix: str | None) -> bool:
    """ListObjects; ``None`` lists without a prefix, so the request has no ``s3:prefix``."""
    context = {} if prefix is None else {"s3:prefix": prefix}
    return is_allowed(policy, "s3:ListBucket", f"arn:aws:s3:::{bucket}", context)
