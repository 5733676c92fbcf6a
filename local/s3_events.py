"""S3 `ObjectCreated` -> Lambda without Docker: the local S3 sends its real event notifications to an SQS queue
(moto supports that destination), and a pump thread hands each event to the runtime as an asynchronous invocation,
which is how S3 invokes Lambda. The manifest's S3 triggers say which bucket, prefix and function."""

from __future__ import annotations

import json
import threading

from functions.manifest import FUNCTIONS
from local.aws import LocalAws
from local.lambda_runtime import LambdaRuntime


class S3EventPump:
    def __init__(self, aws: LocalAws, runtime: LambdaRuntime) -> None:
        self.aws, self.runtime = aws, runtime
        self._sqs = aws.client("sqs")
        self._queues: list[tuple[str, str]] = []  # (queue url, function)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="s3-events")

    def start(self) -> "S3EventPump":
        s3 = self.aws.client("s3")
        for spec in FUNCTIONS:
            for index, trigger in enumerate(spec.s3_triggers):
                queue_url = self._sqs.create_queue(QueueName=f"mumble-{self.aws.stage}-s3-{spec.name}-{index}")[
                    "QueueUrl"]
                arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                    "Attributes"]["QueueArn"]
                s3.put_bucket_notification_configuration(
                    Bucket=self.aws.bucket_name(trigger.bucket),
                    NotificationConfiguration={"QueueConfigurations": [{
                        "QueueArn": arn, "Events": list(trigger.events),
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": trigger.prefix}]}}}]})
                self._queues.append((queue_url, spec.name))
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for queue_url, function in self._queues:
                try:
                    messages = self._sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                                         WaitTimeSeconds=0).get("Messages", [])
                except Exception:  # noqa: BLE001 - the endpoint is going away at shutdown
                    if self._stop.is_set():
                        return
                    raise
                for message in messages:
                    event = json.loads(message["Body"])
                    if event.get("Event") != "s3:TestEvent":
                        self.runtime.invoke_async(function, event)
                    self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            self._stop.wait(0.1)

    def queued(self) -> int:
        """Events not yet handed to the runtime (waiting or being handed over)."""
        total = 0
        for queue_url, _ in self._queues:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages",
                                                    "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            total += sum(int(value) for value in attributes.values())
        return total

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
