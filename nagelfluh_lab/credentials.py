"""Storage credentials for one run (DESIGN §4): read the project, write only the version.

``NagelfluhApp.credentials_class`` picks the provider:

- :class:`StaticCredentials` hands every run the server's own storage
  environment. Right for file storage, where the runner's storage context
  enforces the prefixes, and for S3 setups without STS, where that context is
  the only fence.
- :class:`StsCredentials` asks STS (AWS, MinIO; moto in tests) for temporary
  credentials of ``role_arn`` narrowed by an inline session policy
  (:func:`session_policy`), lasting the queue allowance plus the deadline. The
  role's own policy is the ceiling (a session policy only narrows it): give it
  the bucket's objects under the storage prefix, let the server's identity
  assume it, and raise its MaxSessionDuration to ``max_duration_seconds``.
  On MinIO, point ``sts_endpoint`` at the MinIO server itself.

GCS: its S3 interoperability signs with HMAC keys of a service account, and
HMAC keys take no session policy, so STS-style scoping is impossible there.
The equivalent an operator configures instead is a downscoped OAuth token from
Credential Access Boundaries: exchange the service account's token at
``sts.googleapis.com`` with an access boundary whose rules grant
``inRole:roles/storage.objectViewer`` on the bucket with the availability
condition ``resource.name.startsWith('projects/_/buckets/BUCKET/objects/BASE/PROJECT/')``,
and ``inRole:roles/storage.objectCreator`` with the condition ending in
``.../objects/BASE/PROJECT/processes/ID/vVERSION/')``. Such a token is a bearer
token for GCS's JSON/XML API (not SigV4, so boto3 cannot use it), lives at
most as long as its source token (an hour by default) and needs uniform
bucket-level access; until the runner grows a ``gs://`` backend, GCS runs use
:class:`StaticCredentials` with an HMAC key limited to the bucket.
"""

from __future__ import annotations

import json
import math
import re
from functools import cached_property
from typing import TYPE_CHECKING, Any

from nagelfluh_runner.protocol import project_prefix, version_prefix
from nagelfluh_runner.storage import S3Storage, Storage
from traitlets import Instance, Integer, TraitError, Unicode, validate
from traitlets.config import LoggingConfigurable

from .executors.base import RunKey, RunSpec

if TYPE_CHECKING:
    from types_boto3_sts import STSClient

MAX_SESSION_POLICY = 2048  # STS's limit on the plaintext of an inline session policy
STS_MIN_SECONDS = 900
STS_MAX_SECONDS = 43200
# The policy must fit for any run: ids are 64-bit integers, at most 20 characters.
LONGEST_ID = "9" * 20
_ID = re.compile(r"[A-Za-z0-9_-]+\Z")
# In a policy, * and ? are wildcards and ${...} a variable: a prefix holding them would widen it.
_POLICY_SPECIAL = re.compile(r"[*?$]")


class SessionPolicyTooLarge(ValueError):
    """The storage prefix leaves no room for a session policy within STS's limit."""


class CredentialsError(RuntimeError):
    """STS gave no credentials for a run (unreachable, role not assumable, duration too long)."""


def policy_text(policy: dict[str, Any]) -> str:
    """The compact JSON STS receives and counts against MAX_SESSION_POLICY."""
    return json.dumps(policy, separators=(",", ":"))


def session_policy(
    bucket: str,
    base_prefix: str,
    project_id: int | str,
    process_id: int | str,
    version: int | str,
) -> dict[str, Any]:
    """The IAM policy of one run: read and list ``{base}{project}/``, write
    ``{base}{project}/processes/{id}/v{version}/``.

    The Deny of dot segments (``/./``, ``/../``) costs nothing on S3, which
    takes keys literally, but keeps a run from planting keys that turn into
    path traversal when someone syncs the bucket to a disk.
    """
    for name, value in (("project", project_id), ("process", process_id), ("version", version)):
        if not _ID.match(str(value)):
            raise ValueError(f"{name} id {value!r} must be letters, digits, '-' or '_'")
    if _POLICY_SPECIAL.search(base_prefix):
        raise ValueError(f"storage prefix {base_prefix!r} holds '*', '?' or '$', special in IAM")
    base = base_prefix if not base_prefix or base_prefix.endswith("/") else base_prefix + "/"
    project = base + project_prefix(project_id)
    objects = f"arn:aws:s3:::{bucket}/"
    policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadProject",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{objects}{project}*",
            },
            {
                "Sid": "ListProject",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": [f"{project}*", project]}},
            },
            {
                "Sid": "WriteVersion",
                "Effect": "Allow",
                "Action": [
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": f"{objects}{base}{version_prefix(project_id, process_id, version)}*",
            },
            {
                "Sid": "NoDotSegments",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": [f"{objects}*/{segment}" for segment in ("./*", "../*", ".", "..")],
            },
        ],
    }
    size = len(policy_text(policy))
    if size > MAX_SESSION_POLICY:
        raise SessionPolicyTooLarge(
            f"the session policy for s3://{bucket}/{base} takes {size} characters, more than "
            f"STS's {MAX_SESSION_POLICY}: shorten the prefix of NagelfluhApp.storage_url"
        )
    return policy


def session_name(key: RunKey) -> str:
    """The RoleSessionName, which CloudTrail shows for every request of the run."""
    return f"nagelfluh-p{key.process_id}-v{key.version}"


class CredentialProvider(LoggingConfigurable):
    """Gives each run the environment it reaches storage with (``RunSpec.storage_env``)."""

    storage = Instance(Storage, help="The server's storage, whose base the runs share.")

    def for_run(self, spec: RunSpec) -> dict[str, str]:
        """STORAGE_BASE, STORAGE_ENDPOINT (S3) and AWS_* for ``spec``; may block on the network."""
        raise NotImplementedError


class StaticCredentials(CredentialProvider):
    """Every run gets the server's own storage environment (file storage; S3 without STS)."""

    def for_run(self, spec: RunSpec) -> dict[str, str]:
        return self.storage.runner_env()


class StsCredentials(CredentialProvider):
    """Every run gets temporary credentials of a role, narrowed by :func:`session_policy`."""

    role_arn = Unicode(help="The role runs assume; its own policy bounds what any run may do.").tag(
        config=True
    )
    sts_endpoint = Unicode(
        "", help="STS endpoint URL: empty for AWS's own; MinIO's URL for MinIO."
    ).tag(config=True)
    queue_allowance_seconds = Integer(
        3600,
        min=0,
        help="How long a run may wait in the queue and still start with valid credentials; "
        "they last this plus the run's deadline.",
    ).tag(config=True)
    max_duration_seconds = Integer(
        STS_MAX_SECONDS,
        help="Longest credentials asked for: at most the role's MaxSessionDuration "
        "(AWS's default is 3600) and STS's 43200.",
    ).tag(config=True)

    @validate("max_duration_seconds")
    def _check_max_duration(self, proposal: dict[str, Any]) -> int:
        value = proposal["value"]
        if not STS_MIN_SECONDS <= value <= STS_MAX_SECONDS:
            raise TraitError(f"max_duration_seconds must be {STS_MIN_SECONDS}..{STS_MAX_SECONDS}")
        return value

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(self.storage, S3Storage):
            raise TraitError(
                f"StsCredentials needs s3:// storage, not {self.storage!r}: use StaticCredentials"
            )
        if not self.role_arn:
            raise TraitError("StsCredentials.role_arn is not set")
        self._s3: S3Storage = self.storage
        # Refuse a prefix that cannot fit at start-up rather than at the first run.
        session_policy(self._s3.bucket, self._s3.base, LONGEST_ID, LONGEST_ID, LONGEST_ID)

    @cached_property
    def _sts(self) -> STSClient:
        """An STS client signed with the server's own storage credentials."""
        import boto3

        credentials = self._s3.credentials
        return boto3.session.Session().client(
            "sts",
            endpoint_url=self.sts_endpoint or None,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
            region_name=credentials["AWS_DEFAULT_REGION"],
        )

    def duration_for(self, spec: RunSpec) -> int:
        """Seconds the run's credentials last: queue allowance + deadline, within STS's range."""
        wanted = self.queue_allowance_seconds + math.ceil(spec.deadline_seconds)
        if wanted > self.max_duration_seconds:
            self.log.warning(
                "credentials of %s last %d s, less than the %d s of queue allowance and deadline",
                spec.key,
                self.max_duration_seconds,
                wanted,
            )
        return max(STS_MIN_SECONDS, min(wanted, self.max_duration_seconds))

    def for_run(self, spec: RunSpec) -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        storage = self._s3
        policy = session_policy(
            storage.bucket, storage.base, spec.project_id, spec.key.process_id, spec.key.version
        )
        try:
            answer = self._sts.assume_role(
                RoleArn=self.role_arn,
                RoleSessionName=session_name(spec.key),
                Policy=policy_text(policy),
                DurationSeconds=self.duration_for(spec),
            )
        except (BotoCoreError, ClientError) as error:
            raise CredentialsError(f"STS gave no credentials for {spec.key}: {error}") from error
        credentials = answer["Credentials"]
        return {
            **storage.runner_env(),
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }
