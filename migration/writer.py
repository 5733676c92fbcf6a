"""BatchWriteItem with retries that back off: `UnprocessedItems`, throttling, 5xx and dropped connections are
retried with exponential backoff and full jitter until a time budget runs out, then the batch fails loudly.

boto3's `batch_writer` re-sends unprocessed items at once, with no backoff, which turns a throttled table into a
hot loop; botocore's own retries are switched off on the clients used here (`MIGRATION_CLIENT_CONFIG`) so this is
the one retry policy, and its counters reach the report.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

MAX_BATCH_ITEMS = 25  # BatchWriteItem's limit

RETRYABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "InternalFailure", "LimitExceededException",
})


CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)


def transient_aws_reason(error: BaseException) -> str | None:
    """A short name for an AWS failure worth retrying (throttling, 5xx, a dropped connection), else None."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return f"{code or status}" if code in RETRYABLE_CODES or status >= 500 else None
    if isinstance(error, CONNECTION_ERRORS):
        return type(error).__name__
    return None


def client_config(workers: int) -> Config:
    """Clients for the migration: one attempt per call (retries are ours), a connection per worker."""
    return Config(retries={"total_max_attempts": 1}, max_pool_connections=max(10, workers * 2),
                  connect_timeout=5, read_timeout=30)


class WriteFailed(RuntimeError):
    """A batch could not be written within the retry budget."""


@dataclass
class RetryPolicy:
    base_seconds: float = 0.05
    cap_seconds: float = 5.0
    budget_seconds: float = 120.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2 ** attempt))


@dataclass
class WriteStats:
    """Counters shared by the writer threads."""

    requests: int = 0
    unprocessed_retried: int = 0
    throttled_retried: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, **amounts: int) -> None:
        with self.lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)


def write_batch(client: Any, table: str, items: list[dict[str, Any]], policy: RetryPolicy,
                stats: WriteStats) -> None:
    """Put `items` (at most 25, distinct keys) into `table`, retrying until all are in or the budget is spent."""
    pending = [{"PutRequest": {"Item": item}} for item in items]
    deadline = time.monotonic() + policy.budget_seconds
    attempt = 0
    while pending:
        try:
            stats.bump(requests=1)
            response = client.batch_write_item(RequestItems={table: pending})
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                return
            stats.bump(unprocessed_retried=len(pending))
            reason = f"{len(pending)} unprocessed items"
        except (ClientError, *CONNECTION_ERRORS) as error:
            transient = transient_aws_reason(error)
            if transient is None:
                code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""
                raise WriteFailed(f"{table}: BatchWriteItem refused: {code}: {error}") from error
            stats.bump(throttled_retried=1)
            reason = transient
        attempt += 1
        delay = policy.delay(attempt)
        if time.monotonic() + delay > deadline:
            raise WriteFailed(f"{table}: gave up after {attempt} attempts in {policy.budget_seconds:.0f}s "
                              f"(last: {reason})")
        policy.sleep(delay)
