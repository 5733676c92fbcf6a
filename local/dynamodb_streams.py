"""DynamoDB Streams -> Lambda without Docker, the way an event source mapping delivers them.

For each stream trigger of the manifest, a pump thread reads every shard of the table's stream (moto emulates
DynamoDB Streams) from the oldest record (TRIM_HORIZON, as the deployed mapping starts), in order, in batches of
the trigger's size, and invokes the function synchronously with `{"Records": [...]}`. A partial batch response
retries the batch from the first failed record, up to the trigger's `max_retries`; after that the failed records
go to `failed` (the failure queue of the deployed stack) and the shard moves on. (Lambda also bisects a failing
batch; here the retry simply starts at the first failure.)
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from functions.manifest import FUNCTIONS, StreamTrigger
from local.aws import LocalAws
from local.lambda_runtime import LambdaRuntime

RETRY_DELAY_S = 0.2


@dataclass
class FailedRecords:
    function: str
    table: str
    records: list[dict[str, Any]]
    reason: str


def _wire(record: dict[str, Any]) -> dict[str, Any]:
    """A record as Lambda receives it (JSON): times as epoch seconds, binary values base64, as on the wire."""
    def value(thing: Any) -> Any:
        if isinstance(thing, dt.datetime):
            return int(thing.timestamp())
        if isinstance(thing, (bytes, bytearray)):
            return base64.b64encode(thing).decode()
        raise TypeError(f"{type(thing).__name__} in a stream record")
    return json.loads(json.dumps(record, default=value))


class StreamPump:
    def __init__(self, aws: LocalAws, runtime: LambdaRuntime) -> None:
        self.aws, self.runtime = aws, runtime
        self.failed: list[FailedRecords] = []
        self._streams = aws.client("dynamodbstreams")
        self._iterators: list[tuple[str, StreamTrigger, str, str]] = []  # (function, trigger, stream arn, iterator)
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="dynamodb-streams")

    def start(self) -> "StreamPump":
        dynamodb = self.aws.client("dynamodb")
        for spec in FUNCTIONS:
            for trigger in spec.stream_triggers:
                table = dynamodb.describe_table(TableName=self.aws.table_name(trigger.table))["Table"]
                stream_arn = table["LatestStreamArn"]
                for shard in self._streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
                    iterator = self._streams.get_shard_iterator(
                        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
                    self._iterators.append((spec.name, trigger, stream_arn, iterator["ShardIterator"]))
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            moved = False
            for index, (function, trigger, stream_arn, iterator) in enumerate(self._iterators):
                try:
                    page = self._streams.get_records(ShardIterator=iterator, Limit=trigger.batch_size)
                except Exception:  # noqa: BLE001 - the endpoint is going away at shutdown
                    if self._stop.is_set():
                        return
                    raise
                records = [{**_wire(record), "eventSourceARN": stream_arn} for record in page.get("Records", [])]
                if records:
                    self._busy.set()
                    self._deliver(function, trigger, records)
                    moved = True
                self._iterators[index] = (function, trigger, stream_arn, page.get("NextShardIterator") or iterator)
            if not moved:
                self._busy.clear()
                self._stop.wait(0.1)

    def _deliver(self, function: str, trigger: StreamTrigger, records: list[dict[str, Any]]) -> None:
        pending, attempts = records, 0
        while pending:
            outcome = self.runtime.invoke(function, {"Records": pending})
            if outcome.ok:
                failures = [f["itemIdentifier"] for f in (outcome.result or {}).get("batchItemFailures", [])]
                if not failures:
                    return
                first = next(i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] in failures)
                pending, reason = pending[first:], f"records reported failed: {failures}"
            else:
                reason = f"invocation failed: {outcome.error}"
            attempts += 1
            if attempts > trigger.max_retries:
                self.failed.append(FailedRecords(function, trigger.table, pending, reason))
                return
            time.sleep(RETRY_DELAY_S)

    def idle(self, timeout: float = 30.0) -> bool:
        """True once a full pass over every shard found nothing new (what was written has been delivered)."""
        deadline = time.monotonic() + timeout
        time.sleep(0.25)  # let records written just now reach the stream and the next pass start
        while time.monotonic() < deadline:
            if not self._busy.is_set():
                time.sleep(0.25)
                if not self._busy.is_set():
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
