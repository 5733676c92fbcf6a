"""A private, encrypted, TLS-only S3 bucket: the base of both the site and the media bucket.

Public access blocked, object ownership enforced (no ACLs), SSE-S3 with bucket keys, a policy that denies any
request not made over TLS 1.2+. Callers add their own statements (e.g. CloudFront's read through OAC) with
`attach_policy`, once the principals they name exist.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import pulumi
import pulumi_aws as aws


def tls_only_statements(bucket_arn: str) -> list[dict[str, Any]]:
    """Deny plain HTTP and TLS below 1.2, for the bucket and every object in it."""
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": resources, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyOldTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": resources, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
    ]


class PrivateBucket(pulumi.ComponentResource):
    """The bucket and the settings that keep it private; `arn`, `name`, `regional_domain_name` for callers."""

    def __init__(self, name: str, *, versioned: bool, force_destroy: bool, stateful: pulumi.ResourceOptions,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:private_bucket:PrivateBucket", name, None, opts)
        self._resource_name = name
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(name, force_destroy=force_destroy,
                                    opts=pulumi.ResourceOptions.merge(child, stateful))
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            name, bucket=self.bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        aws.s3.BucketOwnershipControls(
            name, bucket=self.bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            name, bucket=self.bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"},
                    "bucket_key_enabled": True}],
            opts=child)
        if versioned:
            aws.s3.BucketVersioning(name, bucket=self.bucket.id,
                                    versioning_configuration={"status": "Enabled"}, opts=child)
        self.arn = self.bucket.arn
        self.name = self.bucket.bucket
        self.regional_domain_name = self.bucket.bucket_regional_domain_name
        self.register_outputs({"arn": self.arn, "name": self.name})

    def attach_policy(self, extra_statements: Sequence[pulumi.Input[dict[str, Any]]] = ()) -> aws.s3.BucketPolicy:
        """The bucket policy: TLS only, plus the caller's statements (resolved when their ARNs are known)."""
        document = pulumi.Output.all(self.arn, *extra_statements).apply(
            lambda values: json.dumps({"Version": "2012-10-17",
                                       "Statement": tls_only_statements(values[0]) + list(values[1:])}))
        return aws.s3.BucketPolicy(
            self._resource_name, bucket=self.bucket.id, policy=document,
            # AWS refuses policies while the public access block is being applied; order them.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.public_access_block]))
