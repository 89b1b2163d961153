"""An AWS account in moto for per-run credentials: a bucket, the server's IAM user and the
role runs assume, with IAM enforcement switched on while a test runs.

moto checks signatures, session tokens and the role's own policy, but not session
policies: ``policy_eval`` judges those.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication
from nagelfluh_runner.storage import S3Storage, open_storage

from tests.runner.conftest import moto_endpoint  # noqa: F401  (a fixture, used by name)

BASE = "lab"
ROLE_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]


def _document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class Account:
    endpoint: str
    bucket: str
    role_arn: str
    server_key: dict[str, str]  # the server's own access key, which may assume the role

    def storage(self, prefix: str = BASE) -> S3Storage:
        """The server's storage at ``s3://bucket/prefix``."""
        return open_storage(f"s3://{self.bucket}/{prefix}", self.endpoint, **self.server_key)


@pytest.fixture
def account(moto_endpoint) -> Iterator[Account]:  # noqa: F811
    admin = {
        "endpoint_url": moto_endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }
    name = uuid.uuid4().hex[:12]
    bucket = f"nagelfluh-{name}"
    boto3.client("s3", **admin).create_bucket(Bucket=bucket)
    iam = boto3.client("iam", **admin)
    user = iam.create_user(UserName=f"server-{name}")["User"]
    role = iam.create_role(
        RoleName=f"run-{name}",
        AssumeRolePolicyDocument=_document(
            {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}
        ),
        MaxSessionDuration=43200,
    )["Role"]
    iam.put_user_policy(
        UserName=user["UserName"],
        PolicyName="server",
        PolicyDocument=_document(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]},
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
        ),
    )
    # The ceiling an operator gives the role: the storage prefix, nothing else.
    iam.put_role_policy(
        RoleName=role["RoleName"],
        PolicyName="runs",
        PolicyDocument=_document(
            {
                "Effect": "Allow",
                "Action": ROLE_ACTIONS,
                "Resource": f"arn:aws:s3:::{bucket}/{BASE}/*",
            },
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        ),
    )
    key = iam.create_access_key(UserName=user["UserName"])["AccessKey"]
    server_key = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    with enable_iam_authentication():
        yield Account(moto_endpoint, bucket, role["Arn"], server_key)
