"""The full load of one collection: stream legacy documents in `_id` order, convert, write in batches.

One reader (cursor -> mapper -> batches of at most `batch_size` distinct keys) feeds a bounded queue that
`workers` writer threads drain (media copy, then BatchWriteItem with backoff), so a slow table slows the reader
instead of filling memory. Batches finish out of order, but a writer starts batch `s` only once every batch before
`s - 2 * workers` is committed (the window); the committer applies them in order, so the checkpoint is a
low-watermark: every document at or below it is written or dead-lettered, and the counts and dead letters up to it
are saved with it - every `checkpoint_every` committed batches or `CHECKPOINT_SECONDS`, whichever comes first, and
at the end. The crash invariant: a kill -9 at any moment loses nothing, and the resume re-writes at most
`(checkpoint_every - 1 + 2 * workers) * batch_size` items (committed but not yet saved, plus the window).
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pymongo
from bson import json_util

from migration.convert import Unconvertible
from migration.mapping import Mapper, MediaFile
from migration.media import MediaCopier
from migration.segments import Segment, sort_key
from migration.state import LoadCheckpoint, StateStore
from migration.writer import RetryPolicy, WriteStats, write_batch

READ_BATCH = 1000  # documents per cursor round trip
CHECKPOINT_SECONDS = 5.0  # a checkpoint is saved at least this often while batches commit
SAMPLE_IDS = 5  # ids kept per warning rule and dead-letter rule, for the report
COUNTS = ("read", "written", "skipped", "dead_lettered", "media_copied", "media_missing")


@dataclass
class CollectionReport:
    """What happened to one collection. Counts are totals since the full load began (exact across resumes)."""

    collection: str
    dry_run: bool
    counts: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    warning_paths: dict[str, Counter] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)
    dead_letter_rules: Counter = field(default_factory=Counter)
    this_run: Counter = field(default_factory=Counter)
    resumed_after: str | None = None
    seconds: float = 0.0
    error: str | None = None
    capacity: dict[str, Any] | None = None  # the target table's rate and the load's estimate (migration/capacity.py)
    segment: str | None = None  # `2of4` for one segment of a split load; `4 segments` once combined

    def sample(self, rule: str, legacy_id: Any) -> None:
        ids = self.samples.setdefault(rule, [])
        if len(ids) < SAMPLE_IDS:
            ids.append(str(legacy_id))

    def to_json(self) -> dict[str, Any]:
        written_key = "would_write" if self.dry_run else "written"
        data: dict[str, Any] = {name: self.counts[name] for name in COUNTS if name != "written"}
        data[written_key] = self.counts["written"]
        data.update({
            "warnings": dict(sorted(self.warnings.items())),
            "warning_paths": {rule: dict(paths.most_common(10)) for rule, paths in sorted(self.warning_paths.items())},
            "dead_letter_rules": dict(sorted(self.dead_letter_rules.items())),
            "sample_ids": self.samples,
            "this_run": dict(self.this_run),
            "resumed_after": self.resumed_after,
            "seconds": round(self.seconds, 3),
        })
        if self.capacity:
            data["capacity"] = self.capacity
        if self.segment:
            data["segment"] = self.segment
        if self.error:
            data["error"] = self.error
        return data


def report_from_json(collection: str, data: dict[str, Any]) -> CollectionReport:
    """A report read back from its JSON (a segment's `--report`)."""
    dry_run = "would_write" in data
    report = CollectionReport(collection, dry_run, resumed_after=data.get("resumed_after"),
                              seconds=data.get("seconds", 0.0), error=data.get("error"),
                              capacity=data.get("capacity"), segment=data.get("segment"))
    report.counts.update({name: data.get(name, 0) for name in COUNTS if name != "written"})
    report.counts["written"] = data.get("would_write" if dry_run else "written", 0)
    report.warnings.update(data.get("warnings", {}))
    report.warning_paths = {rule: Counter(paths) for rule, paths in data.get("warning_paths", {}).items()}
    report.samples = {rule: list(ids) for rule, ids in data.get("sample_ids", {}).items()}
    report.dead_letter_rules.update(data.get("dead_letter_rules", {}))
    report.this_run.update(data.get("this_run", {}))
    return report


def combine_reports(parts: list[CollectionReport]) -> CollectionReport:
    """The segments of one collection as one report: counts, warnings and rules summed (exact: each segment's
    counts are its totals since its load began), sample ids pooled, the wall time the longest segment's."""
    first = parts[0]
    combined = CollectionReport(first.collection, first.dry_run, capacity=first.capacity,
                                segment=f"{len(parts)} segments", seconds=max(part.seconds for part in parts))
    for part in parts:
        combined.counts.update(part.counts)
        combined.warnings.update(part.warnings)
        combined.dead_letter_rules.update(part.dead_letter_rules)
        combined.this_run.update(part.this_run)
        for rule, paths in part.warning_paths.items():
            combined.warning_paths.setdefault(rule, Counter()).update(paths)
        for rule, ids in part.samples.items():
            for legacy_id in ids:
                combined.sample(rule, legacy_id)
        combined.error = combined.error or (f"segment {part.segment}: {part.error}" if part.error else None)
    return combined


@dataclass
class Batch:
    """Up to `batch_size` items (distinct keys), their media, the dead letters met on the way, and counts.

    At most 25 items of at most 400 KB each: always under BatchWriteItem's 16 MB request limit.
    """

    seq: int
    items: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    media: list[MediaFile] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    last_id: Any = None
    counts: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)


@dataclass
class Target:
    """Where items and media go (absent in dry-run)."""

    dynamodb: Any
    table: str
    state: StateStore
    media: MediaCopier | None
    policy: RetryPolicy
    stats: WriteStats


class DeadLetterFile:
    """JSON lines: collection, _id, rule, message, the original document as canonical extended JSON. Appends from
    several threads (the sync's) are whole lines: one writer at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()

    def drop_after(self, collection: str, watermark: Any) -> None:
        """On resume, forget dead letters past the checkpoint: those documents are read (and judged) again."""
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            legacy_id = json_util.loads(record["_id"])
            beyond = watermark is None or sort_key(legacy_id) > sort_key(watermark)  # MongoDB's order of _ids
            if not (record["collection"] == collection and beyond):
                kept.append(line)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        temporary.replace(self.path)


def dead_letter_record(collection: str, doc: dict[str, Any], rule: str, message: str) -> dict[str, Any]:
    options = json_util.CANONICAL_JSON_OPTIONS
    return {"collection": collection, "_id": json_util.dumps(doc.get("_id"), json_options=options), "rule": rule,
            "message": message, "document": json_util.dumps(doc, json_options=options)}


def _path_pattern(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", path)


def read_batches(documents: Iterator[dict[str, Any]], mapper: Mapper, batch_size: int, report: CollectionReport,
                 stop: threading.Event) -> Iterator[Batch]:
    """Convert documents into batches; warnings and dead letters are recorded on the batch and the report."""
    seq = 0
    batch = Batch(seq)
    for doc in documents:
        if stop.is_set():
            return
        batch.counts["read"] += 1
        batch.last_id = doc.get("_id")
        try:
            converted = mapper.convert(doc)
        except Unconvertible as error:
            rule, message = error.rule, str(error)
        except Exception as error:  # a bug in a mapper must not stop the load; the document is kept aside
            rule, message = "conversion_error", f"{type(error).__name__}: {error}"
        else:
            rule = ""
        if rule:
            batch.dead_letters.append(dead_letter_record(mapper.collection, doc, rule, message))
            batch.counts["dead_lettered"] += 1
            report.dead_letter_rules[rule] += 1
            report.sample(f"dead_letter:{rule}", doc.get("_id"))
        else:
            for warning_rule, paths in converted.findings.paths.items():
                batch.warnings[warning_rule] += len(paths)
                by_path = report.warning_paths.setdefault(warning_rule, Counter())
                by_path.update(_path_pattern(p) for p in paths)
                report.sample(warning_rule, doc.get("_id"))
            batch.counts["media_missing"] += converted.findings.counts.get("media_missing", 0)
            if converted.key in batch.items:
                batch.counts["skipped"] += 1  # the same key twice in a batch: the later document wins
            batch.items[converted.key] = converted.item
            batch.media.extend(converted.media)
        if len(batch.items) >= batch_size or len(batch.dead_letters) >= 100:
            yield batch
            seq += 1
            batch = Batch(seq)
    if batch.counts["read"]:
        yield batch


class Committer:
    """Applies finished batches in sequence order: counts, dead letters, then the checkpoint (in that order, so a
    crash between them duplicates a dead letter at worst, which the next resume drops)."""

    def __init__(self, checkpoint: LoadCheckpoint, report: CollectionReport, dead_letters: DeadLetterFile | None,
                 save: Callable[[LoadCheckpoint], None] | None, every: int = 1) -> None:
        self.checkpoint = checkpoint
        self.report = report
        self.dead_letters = dead_letters
        self.save = save
        self.every = every
        self.next_seq = 0
        self.finished: dict[int, Batch] = {}
        self.lock = threading.Lock()
        self.committed = threading.Condition(self.lock)
        self.unsaved = 0
        self.saved_at = time.monotonic()

    def wait_for_window(self, seq: int, window: int, stop: threading.Event) -> None:
        """Block a writer until batch `seq` is within `window` batches of the next one to commit."""
        with self.committed:
            while seq >= self.next_seq + window and not stop.is_set():
                self.committed.wait(0.1)

    def done(self, batch: Batch) -> None:
        with self.lock:
            self.finished[batch.seq] = batch
            while self.next_seq in self.finished:
                ready = self.finished.pop(self.next_seq)
                self.next_seq += 1
                if self.dead_letters is not None:
                    self.dead_letters.append(ready.dead_letters)
                self.report.counts.update(ready.counts)
                self.report.this_run.update(ready.counts)
                self.report.warnings.update(ready.warnings)
                self.checkpoint.watermark = ready.last_id
                self.unsaved += 1
            if self.unsaved >= self.every or (self.unsaved and time.monotonic() - self.saved_at >= CHECKPOINT_SECONDS):
                self._save()
            self.committed.notify_all()

    def flush(self) -> None:
        """Save what is committed and not saved yet (the end of a run, or its failure)."""
        with self.lock:
            if self.unsaved:
                self._save()

    def _save(self) -> None:
        if self.save is not None:
            self.checkpoint.counts = {name: self.report.counts[name] for name in COUNTS}
            self.checkpoint.warnings = dict(self.report.warnings)
            self.save(self.checkpoint)
        self.unsaved = 0
        self.saved_at = time.monotonic()


def change_stream_position(collection: pymongo.collection.Collection) -> Any:
    """Where a change stream opened now would start: what the sync replays from after the full load."""
    with collection.watch() as stream:
        token = stream.resume_token
    if token is not None:
        return {"resumeAfter": token}
    return {"startAtOperationTime": collection.database.client.admin.command("ping").get("operationTime")}


def run_load(source: pymongo.collection.Collection, mapper: Mapper, *, batch_size: int, workers: int,
             target: Target | None, restart: bool, dead_letters: DeadLetterFile | None,
             progress: Callable[[int], None] = lambda n: None, checkpoint_every: int = 1,
             segment: Segment | None = None, split_token: Any = None) -> CollectionReport:
    """Load one collection, or one `segment` of it (or, with `target=None`, analyse it as a dry-run). Never raises
    for bad documents. A segment's checkpoint is its own; its change-stream position is the split's
    (`split_token`), taken once before any segment started."""
    started = time.monotonic()
    segment = segment or Segment(mapper.collection)
    report = CollectionReport(mapper.collection, dry_run=target is None)
    checkpoint = LoadCheckpoint(collection=segment.name)
    if target is not None:
        previous = None if restart else target.state.load("load", segment.name)
        if previous is not None:
            checkpoint = previous
            checkpoint.completed_at = ""  # set again only when this run reaches the end
            report.counts.update(previous.counts)
            report.warnings.update(previous.warnings)
            report.resumed_after = json_util.dumps(previous.watermark) if previous.watermark is not None else None
            if dead_letters is not None:
                dead_letters.drop_after(mapper.collection, previous.watermark)
        else:
            if dead_letters is not None:
                dead_letters.drop_after(mapper.collection, None)
            checkpoint.change_stream_token = split_token if segment.count > 1 else change_stream_position(source)
            checkpoint.started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            target.state.save("load", checkpoint)
            target.state.delete("sync", mapper.collection)  # the sync starts again from this load's position
            if segment.count == 1:
                target.state.delete("split", mapper.collection)  # a whole load replaces an earlier split
    query = segment.query(after=checkpoint.watermark)  # in MongoDB's order of _ids, whatever their types
    cursor = source.find(query, sort=[("_id", pymongo.ASCENDING)], batch_size=READ_BATCH)
    stop = threading.Event()
    committer = Committer(checkpoint, report, dead_letters,
                          None if target is None else (lambda cp: target.state.save("load", cp)), checkpoint_every)
    errors: list[str] = []
    try:
        if target is None:
            for batch in read_batches(cursor, mapper, batch_size, report, stop):
                batch.counts["written"] = len(batch.items)
                committer.done(batch)
                progress(batch.counts["read"])
        else:
            _write_all(cursor, mapper, batch_size, workers, target, report, committer, stop, errors, progress)
    except pymongo.errors.PyMongoError as error:
        errors.append(f"reading {mapper.collection} from MongoDB failed: {error}")
    finally:
        cursor.close()
        committer.flush()  # what committed since the last save, also on a failure or Ctrl-C
    if errors:
        report.error = errors[0]
    elif target is not None:
        checkpoint.completed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        target.state.save("load", checkpoint)
    report.seconds = time.monotonic() - started
    return report


def _write_all(cursor: Any, mapper: Mapper, batch_size: int, workers: int, target: Target,
               report: CollectionReport, committer: Committer, stop: threading.Event, errors: list[str],
               progress: Callable[[int], None]) -> None:
    work: queue.Queue[Batch | None] = queue.Queue(maxsize=workers * 2)

    def worker() -> None:
        while True:
            batch = work.get()
            if batch is None:
                return
            committer.wait_for_window(batch.seq, 2 * workers, stop)
            if stop.is_set():
                continue  # drain without writing: the checkpoint stays behind the failure
            try:
                if target.media is not None:
                    batch.counts["media_uploaded"] += target.media.copy_all(batch.media)
                    batch.counts["media_copied"] += len(batch.media)  # in place, verified by checksum
                if batch.items:
                    write_batch(target.dynamodb, target.table, list(batch.items.values()), target.policy,
                                target.stats)
                batch.counts["written"] = len(batch.items)
                committer.done(batch)
                progress(batch.counts["read"])
            except Exception as error:  # recorded and reported; the run ends with exit code 1
                errors.append(f"writing {mapper.collection}: {error}")
                stop.set()

    threads = [threading.Thread(target=worker, name=f"writer-{n}", daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for batch in read_batches(cursor, mapper, batch_size, report, stop):
            work.put(batch)
    finally:
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
