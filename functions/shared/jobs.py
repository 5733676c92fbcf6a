"""Image-generation jobs: how a request becomes a job record and an asynchronous worker invocation.

Shared by `POST /generate` and the WebSocket `generateImage` action, so both validate the same way, are idempotent
on the same key (`Idempotency-Key`, per user, through Powertools Idempotency) and start the same worker. A job is
`pending` -> `running` -> `succeeded` | `failed`; the worker and the maintenance schedule make sure it always ends.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from functions.shared.aws import from_item, to_item
from functions.shared.media_access import object_exists, owns_media_key
from functions.shared.versions import now_timestamp

JOB_TTL_SECONDS = 7 * 24 * 3600
STYLES = ("photo", "illustration", "watercolor", "pixel-art", "sketch")
MAX_TEXT = 2000
TERMINAL = ("succeeded", "failed")

SUBMISSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "audioKey": {"type": "string", "minLength": 1, "maxLength": 512},
        "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S"},
        "location": {
            "type": "object",
            "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                           "lon": {"type": "number", "minimum": -180, "maximum": 180},
                           "city": {"type": "string", "maxLength": 120}},
            "required": ["lat", "lon"],
            "additionalProperties": False,
        },
        "style": {"type": "string", "enum": list(STYLES)},
    },
    "oneOf": [{"required": ["audioKey"]}, {"required": ["text"]}],
    "additionalProperties": False,
}


class SubmissionRejected(ValueError):
    """The submission names something the caller may not use; `field` says which input."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class JobStore:
    """Job records in the jobs table and every change of their state (submission, worker, maintenance)."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table

    def get(self, job_id: str) -> dict[str, Any] | None:
        found = self.dynamodb.get_item(TableName=self.table, Key={"jobId": {"S": job_id}},
                                       ConsistentRead=True).get("Item")
        return from_item(found) if found else None

    def create(self, user_id: str, request: dict[str, Any]) -> dict[str, Any]:
        now = now_timestamp()
        job = {"jobId": uuid.uuid4().hex, "userId": user_id, "status": "pending", "request": request,
               "imageId": uuid.uuid4().hex, "createdAt": now, "updatedAt": now,
               "expiresAt": int(time.time()) + JOB_TTL_SECONDS}
        self.dynamodb.put_item(TableName=self.table, Item=to_item(job),
                               ConditionExpression="attribute_not_exists(jobId)")
        return job

    def start(self, job_id: str) -> bool:
        """pending -> running (or running again on a retry); False when the job has already finished."""
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key={"jobId": {"S": job_id}},
                UpdateExpression="SET #s = :running, updatedAt = :now, "
                                 "attempts = if_not_exists(attempts, :zero) + :one",
                ConditionExpression="#s IN (:pending, :running)", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_item({":running": "running", ":pending": "pending",
                                                   ":now": now_timestamp(), ":zero": 0, ":one": 1}))
            return True
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False

    def image_created_at(self, job_id: str) -> str:
        """The image's `createdAt`, fixed on the job the first time, so a retried worker writes the same item."""
        updated = self.dynamodb.update_item(
            TableName=self.table, Key={"jobId": {"S": job_id}},
            UpdateExpression="SET imageCreatedAt = if_not_exists(imageCreatedAt, :now)",
            ExpressionAttributeValues={":now": {"S": now_timestamp()}}, ReturnValues="ALL_NEW")
        return updated["Attributes"]["imageCreatedAt"]["S"]

    def succeed(self, job_id: str, keys: dict[str, str]) -> dict[str, Any]:
        """The job as it is now: succeeded, with the keys of what it made."""
        updated = self.dynamodb.update_item(
            TableName=self.table, Key={"jobId": {"S": job_id}},
            UpdateExpression="SET #s = :done, #k = :keys, updatedAt = :now REMOVE #e",
            ExpressionAttributeNames={"#s": "status", "#k": "keys", "#e": "error"},
            ExpressionAttributeValues=to_item({":done": "succeeded", ":keys": keys, ":now": now_timestamp()}),
            ReturnValues="ALL_NEW")
        return from_item(updated["Attributes"])

    def fail(self, job_id: str, reason: str) -> bool:
        """Mark an unfinished job failed with a reason; False when it had already finished (nothing changed)."""
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key={"jobId": {"S": job_id}},
                UpdateExpression="SET #s = :failed, #e = :reason, updatedAt = :now",
                ConditionExpression="#s IN (:pending, :running)",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues=to_item({":failed": "failed", ":reason": reason[:500],
                                                   ":now": now_timestamp(), ":pending": "pending",
                                                   ":running": "running"}))
            return True
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False


def validate_submission(s3: Any, bucket: str, user_id: str, request: dict[str, Any]) -> None:
    """Checks beyond the schema: the audio must be the caller's and must exist."""
    key = request.get("audioKey")
    if key is not None:
        if not owns_media_key(user_id, key, "audio"):
            raise SubmissionRejected("audioKey must name one of your own uploads (audio/<your id>/...)", "audioKey")
        if not object_exists(s3, bucket, key):
            raise SubmissionRejected("no upload exists under audioKey; upload the audio first", "audioKey")


def start_worker(lambda_client: Any, worker: str, job_id: str) -> None:
    """Invoke the worker asynchronously (Lambda queues the event and retries it on failure)."""
    lambda_client.invoke(FunctionName=worker, InvocationType="Event", Payload=json.dumps({"jobId": job_id}))


def public_view(job: dict[str, Any]) -> dict[str, Any]:
    """What the owner sees of a job (poll and push share it): never bytes, only ids and keys."""
    view = {k: job[k] for k in ("jobId", "status", "createdAt", "updatedAt") if k in job}
    if job.get("status") == "succeeded":
        view["imageId"] = job.get("imageId")
        view["keys"] = job.get("keys", {})
    if job.get("status") == "failed":
        view["error"] = job.get("error")
    return view


class WorkerNotStarted(RuntimeError):
    """Lambda refused the asynchronous invocation; the job was marked failed."""


IDEMPOTENCY_SECONDS = 24 * 3600


class Submitter:
    """Validate, record and start a job; idempotent on (user, Idempotency-Key) through Powertools Idempotency.

    A replay with the same key answers the first job again (no second job, no second worker); the same key with a
    different request is refused (Powertools' payload validation); a failed submission leaves no record, so the
    client may retry with the same key.
    """

    def __init__(self, store: JobStore, s3: Any, bucket: str, lambda_client: Any, worker: str,
                 idempotency_table: str) -> None:
        from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 - only the submitting functions
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self.store, self.s3, self.bucket, self.lambda_client, self.worker = store, s3, bucket, lambda_client, worker
        self.config = IdempotencyConfig(event_key_jmespath="[userId, idempotencyKey]",
                                        payload_validation_jmespath="request",
                                        expires_after_seconds=IDEMPOTENCY_SECONDS)
        persistence = DynamoDBPersistenceLayer(table_name=idempotency_table, boto3_client=store.dynamodb)
        self._idempotent = idempotent_function(data_keyword_argument="submission", config=self.config,
                                               persistence_store=persistence)(self._submit)

    def submit(self, user_id: str, request: dict[str, Any], idempotency_key: str | None,
               context: Any) -> dict[str, Any]:
        validate_submission(self.s3, self.bucket, user_id, request)
        submission = {"userId": user_id, "idempotencyKey": idempotency_key, "request": request}
        if not idempotency_key:
            return self._submit(submission=submission)
        self.config.register_lambda_context(context)
        return self._idempotent(submission=submission)

    def _submit(self, submission: dict[str, Any]) -> dict[str, Any]:
        job = self.store.create(submission["userId"], submission["request"])
        try:
            start_worker(self.lambda_client, self.worker, job["jobId"])
        except Exception as error:  # noqa: BLE001 - any refusal leaves the job failed, never pending forever
            self.store.fail(job["jobId"], f"could not start the worker: {type(error).__name__}")
            raise WorkerNotStarted(str(error)) from error
        return {"jobId": job["jobId"], "status": job["status"], "createdAt": job["createdAt"]}


def submission_error(error: Exception) -> tuple[int, str, str, str | None] | None:
    """(status, code, message, field) for the errors a submitter raises that the caller can act on."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    if isinstance(error, SubmissionRejected):
        return 400, "ValidationError", str(error), error.field
    if isinstance(error, IdempotencyValidationError):
        return 422, "IdempotencyKeyReused", "this Idempotency-Key was used for a different request", \
            "Idempotency-Key"
    if isinstance(error, IdempotencyAlreadyInProgressError):
        return 409, "InProgress", "a request with this Idempotency-Key is still being processed", "Idempotency-Key"
    if isinstance(error, WorkerNotStarted):
        return 503, "ServiceUnavailable", "the job could not be started; retry with the same Idempotency-Key", None
    return None
