"""The stage's failure queue: where asynchronous invocations (the image worker, S3 events, schedules) land after
their bounded retries, so no job or upload is dropped silently. Encrypted; DLQ depth is alarmed."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: two weeks to look at and redrive a failure


class FailureQueue(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:dead_letters:FailureQueue", name, None, opts)
        self.queue = aws.sqs.Queue(name, sqs_managed_sse_enabled=True, message_retention_seconds=RETENTION_SECONDS,
                                   opts=pulumi.ResourceOptions(parent=self))
        self.arn = self.queue.arn
        self.name = self.queue.name
        self.register_outputs({"arn": self.arn})
