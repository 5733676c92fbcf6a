"""The image pipeline: S3 `ObjectCreated` notifications from the manifest (images/ -> imageProcessor).

S3 invokes asynchronously, so retries and the on-failure destination are the function's async invoke config
(components/function.py); here each trigger gets its notification and a permission scoped to its bucket.
"""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_aws as aws

from components.function import AppFunction
from functions.manifest import FUNCTIONS


class ImagePipeline(pulumi.ComponentResource):
    """One notification configuration per bucket (S3 allows only one), with every manifest trigger on it."""

    def __init__(self, name: str, buckets: Mapping[str, tuple[pulumi.Output[str], pulumi.Output[str]]],
                 functions: Mapping[str, AppFunction], account_id: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        """`buckets[logical] = (bucket name, bucket arn)`."""
        super().__init__("mumble:pipeline:ImagePipeline", name, None, opts)
        for logical, (bucket_name, bucket_arn) in buckets.items():
            triggered = [(spec, trigger) for spec in FUNCTIONS for trigger in spec.s3_triggers
                         if trigger.bucket == logical]
            if not triggered:
                continue
            permissions = [functions[spec.name].allow_invoke(f"{name}-{logical}-{spec.name}", "s3.amazonaws.com",
                                                             bucket_arn, account_id)
                           for spec, _ in triggered]
            aws.s3.BucketNotification(
                f"{name}-{logical}", bucket=bucket_name,
                lambda_functions=[{"lambda_function_arn": functions[spec.name].target_arn, "events": list(trigger.events),
                                   "filter_prefix": trigger.prefix} for spec, trigger in triggered],
                opts=pulumi.ResourceOptions(parent=self, depends_on=permissions))
        self.register_outputs({})
