"""Deterministic sample of the legacy Mumble database, with the drift a real Mongoose-era database has.

    python -m local.sample_data --mongo-uri mongodb://127.0.0.1:27017 --users 1000 --images 10000 --media-dir uploads

The same seed and sizes always give the same documents, ids and media bytes, so migration tests and benchmarks
can be compared run to run. Documents are generated one at a time and inserted in batches: memory stays flat
however many are asked for.

Drift, as the legacy app accumulated it (each kind is counted in the summary under the name given here):
- optional fields missing, `null`, or empty strings; unknown extra fields (`__v`, `referrer`, `legacyFlags`, ...);
- dates as BSON dates (naive = UTC), as timezone-less strings, or as epoch-millisecond numbers;
- emails with capitals and stray whitespace, one duplicated in another case, one missing, one empty;
- `images.userId` as an ObjectId, as a hex string, pointing at no user, or missing;
- numbers as doubles, Int32, Int64 beyond 2^53, Decimal128 (one beyond DynamoDB's range), NaN and Infinity;
- nested objects and arrays, one document nested deeper than DynamoDB's 32 levels, one larger than 400 KB;
- binary data and a UUID;
- media: local `/uploads/...` paths (a few whose file is gone), expired provider URLs, and audio files.

Users `0 .. KNOWN_PASSWORD_USERS-1` have a real bcrypt hash of `sample_password(i)`, so sign-in migration can be
tested; every other user has a well-formed hash of an unknown password, as real users do.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import math
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from bson import Binary, Decimal128, Int64, ObjectId

KNOWN_PASSWORD_USERS = 20
BATCH_SIZE = 1000
EPOCH = dt.datetime(2021, 1, 1)
SPAN = dt.timedelta(days=4 * 365)  # the legacy app's lifetime the sample is spread over
BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
CITIES = [("London", 51.5072, -0.1276), ("Beijing", 39.9042, 116.4074), ("Seattle", 47.6062, -122.3321),
          ("São Paulo", -23.5558, -46.6396), ("Nairobi", -1.2921, 36.8219), ("Zürich", 47.3769, 8.5417)]
WEATHER = ["clear sky", "light rain", "overcast clouds", "snow", "thunderstorm", "晴", "多云"]
MODELS = ["dall-e-2", "dall-e-3", "gpt-image-1"]
WORDS = ("river mountain neon cat dragon lantern rain city dusk forest ocean robot garden night "
         "sunrise violin paper boat moon whisper").split()


@dataclass(frozen=True)
class SampleSpec:
    """What to generate. Equal specs give byte-identical databases and media directories."""

    users: int = 100
    images: int = 500
    seed: int = 42

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"users must be at least 1 (got {self.users})")
        if self.images < 0:
            raise ValueError(f"images must be 0 or more (got {self.images})")
        if max(self.users, self.images) >= 1 << 24:
            raise ValueError("at most 16,777,215 documents per collection")


@dataclass
class SeedSummary:
    """What was generated: counts, drift kinds by collection, media files."""

    counts: Counter = field(default_factory=Counter)
    drift: dict[str, Counter] = field(default_factory=lambda: {"users": Counter(), "images": Counter()})
    media_files: Counter = field(default_factory=Counter)
    media_bytes: int = 0
    seconds: float = 0.0


def sample_password(index: int) -> str:
    """The plain-text password of sample user `index` (only users below KNOWN_PASSWORD_USERS have one)."""
    return f"Mumble-sample-{index}"  # within the user pool's password rule, so sign-in can carry it over


def object_id(seed: int, collection: str, index: int, when: dt.datetime) -> ObjectId:
    """A deterministic ObjectId: creation second, 5 bytes from (seed, collection), 3-byte counter = index.

    Ids increase with index (time first), as the legacy app's did, so `_id` order is insertion order.
    """
    middle = random.Random(f"{seed}:{collection}").randbytes(5)
    seconds = int(when.replace(tzinfo=dt.timezone.utc).timestamp())
    return ObjectId(seconds.to_bytes(4, "big") + middle + index.to_bytes(3, "big"))


def created_at(spec: SampleSpec, collection: str, index: int) -> dt.datetime:
    total = spec.users if collection == "users" else max(spec.images, 1)
    offset = SPAN * (index / max(total, 1))
    # Users sign up over the first half of the span; images keep coming over all of it.
    if collection == "users":
        offset = offset / 2
    return (EPOCH + offset).replace(microsecond=(index * 7919 % 1000) * 1000)


def user_id(spec: SampleSpec, index: int) -> ObjectId:
    return object_id(spec.seed, "users", index, created_at(spec, "users", index))


# --- anomalies: each kind appears exactly once per collection when there are enough documents ----------------

def _anomaly_positions(count: int, kinds: list[str]) -> dict[int, str]:
    """Spread the rare cases evenly and deterministically; small samples get the first ones."""
    if count == 0:
        return {}
    step = max(1, count // (len(kinds) + 1))
    positions: dict[int, str] = {}
    for n, kind in enumerate(kinds):
        position = (n + 1) * step
        if position < count and position not in positions:
            positions[position] = kind
    return positions


USER_ANOMALIES = ["deep_nesting", "huge_document", "missing_email", "empty_email", "duplicate_email_other_case",
                  "nan_float", "infinite_float", "decimal128_out_of_range", "binary_field", "uuid_field",
                  "string_latitude"]
IMAGE_ANOMALIES = ["deep_nesting", "huge_document", "missing_userId", "null_userId", "nan_float",
                   "infinite_float", "decimal128_out_of_range", "missing_createdAt", "mixed_type_tags",
                   "int64_likes", "string_isPublic"]


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": "bottom"}
    for level in range(depth):
        node = {f"level{depth - level}": node}
    return node


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def _drifted_date(rng: random.Random, when: dt.datetime, drift: Counter, field_name: str) -> Any:
    """Mostly a BSON date; sometimes a timezone-less string or epoch milliseconds, as old code paths wrote."""
    roll = rng.random()
    if roll < 0.03:
        drift[f"{field_name}_as_naive_string"] += 1
        return when.strftime("%Y-%m-%d %H:%M:%S" if rng.random() < 0.5 else "%Y-%m-%dT%H:%M:%S.%f")[:23]
    if roll < 0.04:
        drift[f"{field_name}_as_epoch_millis"] += 1
        return Int64(int(when.replace(tzinfo=dt.timezone.utc).timestamp() * 1000))
    return when


def _bcrypt_hash(rng: random.Random, index: int) -> str:
    # 22 characters carry 128 bits, so the last one holds only its top two bits: one of ".Oeu".
    salt_body = "".join(rng.choice(BCRYPT_ALPHABET) for _ in range(21)) + rng.choice(".Oeu")
    if index < KNOWN_PASSWORD_USERS:
        import bcrypt  # real hashes only for the few users whose password tests know

        salt = f"$2a$04${salt_body}".encode()
        return bcrypt.hashpw(sample_password(index).encode(), salt).decode()
    return f"$2a$10${salt_body}" + "".join(rng.choice(BCRYPT_ALPHABET) for _ in range(31))


# --- documents ---------------------------------------------------------------------------------------------

def generate_users(spec: SampleSpec, drift: Counter | None = None) -> Iterator[dict[str, Any]]:
    """The `users` collection, one document at a time, in `_id` order."""
    drift = drift if drift is not None else Counter()
    anomalies = _anomaly_positions(spec.users, USER_ANOMALIES)
    for i in range(spec.users):
        rng = random.Random(f"{spec.seed}:users:{i}")
        created = created_at(spec, "users", i)
        name = f"{rng.choice(WORDS)}{rng.choice(WORDS).title()}{i}"
        email = f"{name.lower()}@example.com"
        if rng.random() < 0.1:
            email = f"  {name}@Example.COM " if rng.random() < 0.5 else f"{name.title()}@EXAMPLE.com"
            drift["email_not_normalised"] += 1
        doc: dict[str, Any] = {
            "_id": user_id(spec, i),
            "email": email,
            "username": name,
            "passwordHash": _bcrypt_hash(rng, i),
            "createdAt": _drifted_date(rng, created, drift, "createdAt"),
        }
        roll = rng.random()
        if roll < 0.6:
            doc["displayName"] = name.title()
        elif roll < 0.65:
            doc["displayName"] = ""
            drift["empty_string"] += 1
        else:
            drift["missing_optional_field"] += 1
        roll = rng.random()
        if roll < 0.4:
            doc["avatarUrl"] = f"/uploads/avatars/{name}.png"
        elif roll < 0.5:
            doc["avatarUrl"] = None
            drift["null_value"] += 1
        if rng.random() < 0.6:
            doc["preferences"] = {
                "theme": rng.choice(["dark", "light"]),
                "language": rng.choice(["en", "zh-CN", "pt-BR"]),
                "notifications": {"email": rng.random() < 0.5, "push": rng.random() < 0.5},
                "styles": rng.sample(["watercolor", "pixel", "photo", "ink", "oil"], k=rng.randint(0, 3)),
            }
            drift["nested_object"] += 1
        if rng.random() < 0.5:
            city, lat, lon = rng.choice(CITIES)
            doc["location"] = {"lat": lat + rng.uniform(-0.1, 0.1), "lon": lon + rng.uniform(-0.1, 0.1)}
            if rng.random() < 0.8:
                doc["location"]["city"] = city
            drift["float"] += 1
        if rng.random() < 0.9:
            updated = created + dt.timedelta(seconds=rng.randint(0, 86400 * 30))
            doc["updatedAt"] = _drifted_date(rng, updated, drift, "updatedAt")
        if rng.random() < 0.7:
            doc["lastLoginAt"] = created + dt.timedelta(days=rng.randint(1, 400))
        if rng.random() < 0.8:
            doc["__v"] = rng.randint(0, 3)
            drift["extra_field"] += 1
        if rng.random() < 0.05:
            doc["referrer"] = rng.choice(["twitter", "weibo", "", None])
            drift["extra_field"] += 1
        if rng.random() < 0.03:
            doc["legacyFlags"] = {"beta": True, "cohort": rng.randint(1, 5)}
        if rng.random() < 0.02:
            doc["stats"] = {"bigCounter": Int64(2**53 + rng.randint(1, 10**6)), "sessions": rng.randint(1, 900)}
            drift["int_beyond_2^53"] += 1
        if rng.random() < 0.05:
            doc["credits"] = Decimal128(f"{rng.randint(0, 9999)}.{rng.randint(0, 99):02d}")
            drift["decimal128"] += 1
        kind = anomalies.get(i)
        if kind:
            _apply_user_anomaly(kind, doc, spec, i, rng)
            drift[kind] += 1
        yield doc


def _apply_user_anomaly(kind: str, doc: dict[str, Any], spec: SampleSpec, i: int, rng: random.Random) -> None:
    if kind == "deep_nesting":
        doc["preferences"] = _nested(40)
    elif kind == "huge_document":
        doc["bio"] = ("lorem ipsum " * 40_000)[:450_000]
    elif kind == "missing_email":
        del doc["email"]
    elif kind == "empty_email":
        doc["email"] = ""
    elif kind == "duplicate_email_other_case":
        other = random.Random(f"{spec.seed}:users:0")
        first = f"{other.choice(WORDS)}{other.choice(WORDS).title()}0"
        doc["email"] = f"{first.upper()}@EXAMPLE.COM"
    elif kind == "nan_float":
        doc["location"] = {"lat": math.nan, "lon": 0.0, "city": "Nowhere"}
    elif kind == "infinite_float":
        doc["score"] = math.inf
    elif kind == "decimal128_out_of_range":
        doc["credits"] = Decimal128("9.99E+200")
    elif kind == "binary_field":
        doc["avatarThumb"] = Binary(rng.randbytes(64))
    elif kind == "uuid_field":
        doc["externalId"] = Binary.from_uuid(uuid.UUID(int=rng.getrandbits(128), version=4))
    elif kind == "string_latitude":
        doc["location"] = {"lat": "51.5", "lon": "-0.12", "city": "London"}


def generate_images(spec: SampleSpec, drift: Counter | None = None) -> Iterator[dict[str, Any]]:
    """The `images` collection, one document at a time, in `_id` order."""
    drift = drift if drift is not None else Counter()
    anomalies = _anomaly_positions(spec.images, IMAGE_ANOMALIES)
    for j in range(spec.images):
        rng = random.Random(f"{spec.seed}:images:{j}")
        created = created_at(spec, "images", j)
        oid = object_id(spec.seed, "images", j, created)
        owner = user_id(spec, rng.randrange(spec.users))
        transcription = _words(rng, 3, 30)
        doc: dict[str, Any] = {
            "_id": oid,
            "userId": owner,
            "transcription": transcription,
            "prompt": f"{transcription}, {rng.choice(['watercolor', 'pixel art', 'photo'])}",
            "createdAt": _drifted_date(rng, created, drift, "createdAt"),
        }
        roll = rng.random()
        if roll < 0.03:
            doc["userId"] = str(owner)
            drift["userId_as_string"] += 1
        elif roll < 0.04:
            doc["userId"] = object_id(spec.seed, "deleted-users", j, created)
            drift["orphan_userId"] += 1
        if rng.random() < 0.03:
            doc["transcription"] = ""
            drift["empty_string"] += 1
        if rng.random() < 0.02:
            doc["prompt"] = None
            drift["null_value"] += 1
        stamp = int(created.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
        roll = rng.random()
        if roll < 0.85:
            doc["imageUrl"] = f"/uploads/images/{stamp}-{rng.randbytes(4).hex()}.png"
        elif roll < 0.95:
            doc["imageUrl"] = (f"https://oaidalleapiprodscus.blob.core.windows.net/private/org-legacy/user-x/"
                               f"img-{oid}.png?st=2023-01-01T00%3A00%3A00Z&se=2023-01-01T02%3A00%3A00Z&sig=x")
            drift["expired_provider_url"] += 1
        elif roll < 0.98:
            doc["imageUrl"] = ""
            drift["empty_string"] += 1
        else:
            drift["missing_optional_field"] += 1
        if rng.random() < 0.7:
            doc["audioUrl"] = f"/uploads/audio/{stamp}-{rng.randbytes(4).hex()}.webm"
        if rng.random() < 0.7:
            city, lat, lon = rng.choice(CITIES)
            temperature: Any = round(rng.uniform(-15, 38), 2) if rng.random() < 0.8 else rng.randint(-15, 38)
            doc["weather"] = {"description": rng.choice(WEATHER), "temperature": temperature, "location": city,
                              "humidity": rng.randint(5, 100)}
            roll = rng.random()
            if roll < 0.5:
                doc["location"] = city
            elif roll < 0.8:
                doc["location"] = {"lat": lat, "lon": lon}
                drift["location_shape_varies"] += 1
        if rng.random() < 0.5:
            doc["tags"] = rng.sample(WORDS, k=rng.randint(0, 4))
            drift["array"] += 1
        roll = rng.random()
        if roll < 0.6:
            doc["likes"] = rng.randint(0, 500)
        elif roll < 0.63:
            doc["likes"] = float(rng.randint(0, 50))
            drift["int_as_double"] += 1
        if rng.random() < 0.7:
            doc["isPublic"] = rng.random() < 0.4
        if rng.random() < 0.8:
            doc["model"] = rng.choice(MODELS)
        if rng.random() < 0.5:
            doc["updatedAt"] = created + dt.timedelta(minutes=rng.randint(0, 60 * 24 * 90))
        if rng.random() < 0.8:
            doc["__v"] = 0
            drift["extra_field"] += 1
        if rng.random() < 0.1:
            doc["metadata"] = {"seed": Int64(rng.getrandbits(62)), "steps": [{"n": n, "ms": rng.random() * 90}
                                                                           for n in range(rng.randint(1, 3))]}
            drift["nested_array_of_objects"] += 1
        kind = anomalies.get(j)
        if kind:
            _apply_image_anomaly(kind, doc, rng)
            drift[kind] += 1
        yield doc


def _apply_image_anomaly(kind: str, doc: dict[str, Any], rng: random.Random) -> None:
    if kind == "deep_nesting":
        doc["metadata"] = _nested(40)
    elif kind == "huge_document":
        doc["transcription"] = ("很长的转录文本 " * 60_000)[:420_000]
    elif kind == "missing_userId":
        del doc["userId"]
    elif kind == "null_userId":
        doc["userId"] = None
    elif kind == "nan_float":
        doc["weather"] = {"description": "unknown", "temperature": math.nan, "location": "?"}
    elif kind == "infinite_float":
        doc["weather"] = {"description": "heat", "temperature": -math.inf, "location": "?"}
    elif kind == "decimal128_out_of_range":
        doc["score"] = Decimal128("-1.5E-250")
    elif kind == "missing_createdAt":
        del doc["createdAt"]
    elif kind == "mixed_type_tags":
        doc["tags"] = ["ok", 3, None, {"nested": True}, 2.5]
    elif kind == "int64_likes":
        doc["likes"] = Int64(2**62 + rng.randint(0, 1000))
    elif kind == "string_isPublic":
        doc["isPublic"] = "true"


# --- media files -------------------------------------------------------------------------------------------

def media_files(doc: dict[str, Any], missing_rate: float = 0.03) -> Iterator[tuple[str, bytes]]:
    """The legacy uploads an image document points at: (path relative to the uploads dir, bytes).

    A few referenced files are deliberately absent (disks get cleaned); which ones is deterministic per document.
    """
    rng = random.Random(f"media:{doc['_id']}")
    for field_name, kind in (("imageUrl", "images"), ("audioUrl", "audio")):
        url = doc.get(field_name)
        if not isinstance(url, str) or not url.startswith(f"/uploads/{kind}/"):
            continue
        if rng.random() < missing_rate:
            continue
        yield url.removeprefix("/uploads/"), _png(rng) if kind == "images" else _webm(rng)


def _png(rng: random.Random) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), tuple(rng.randbytes(3))).save(buffer, "PNG")
    return buffer.getvalue()


def _webm(rng: random.Random) -> bytes:
    return b"\x1a\x45\xdf\xa3" + rng.randbytes(rng.randint(256, 2048))  # EBML magic + opaque payload


# --- seeding -----------------------------------------------------------------------------------------------

def _insert(collection: Any, docs: Iterable[dict[str, Any]], on_doc: Callable[[dict[str, Any]], None]) -> int:
    batch: list[dict[str, Any]] = []
    count = 0
    for doc in docs:
        on_doc(doc)
        batch.append(doc)
        if len(batch) >= BATCH_SIZE:
            collection.insert_many(batch, ordered=True)
            count += len(batch)
            batch = []
    if batch:
        collection.insert_many(batch, ordered=True)
        count += len(batch)
    return count


def seed(database: Any, spec: SampleSpec, media_dir: Path | None = None) -> SeedSummary:
    """Drop and refill `users` and `images` in `database` (a pymongo Database); write media under `media_dir`."""
    started = time.monotonic()
    summary = SeedSummary()
    database.users.drop()
    database.images.drop()

    def write_media(doc: dict[str, Any]) -> None:
        if media_dir is None:
            return
        for relative, content in media_files(doc):
            path = media_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            summary.media_files[relative.split("/", 1)[0]] += 1
            summary.media_bytes += len(content)

    summary.counts["users"] = _insert(database.users, generate_users(spec, summary.drift["users"]), lambda d: None)
    summary.counts["images"] = _insert(database.images, generate_images(spec, summary.drift["images"]), write_media)
    summary.seconds = time.monotonic() - started
    return summary


def format_summary(summary: SeedSummary) -> str:
    lines = [f"users: {summary.counts['users']:,}   images: {summary.counts['images']:,}   "
             f"({summary.seconds:.1f}s)"]
    for collection, drift in summary.drift.items():
        lines.append(f"drift in {collection}:")
        lines.extend(f"  {kind:<32} {count:>8,}" for kind, count in sorted(drift.items()))
    if summary.media_files:
        files = ", ".join(f"{kind} {count:,}" for kind, count in sorted(summary.media_files.items()))
        lines.append(f"media files: {files} ({summary.media_bytes / 1e6:.1f} MB)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.sample_data",
        description="Fill a MongoDB database with a deterministic sample of the legacy Mumble data (with drift).",
        epilog="example: python -m local.sample_data --mongo-uri mongodb://127.0.0.1:27017 --users 1000 "
               "--images 10000 --media-dir /tmp/uploads",
    )
    parser.add_argument("--mongo-uri", required=True, help="MongoDB URI of the legacy database server")
    parser.add_argument("--mongo-db", default="mumble", help="database name (default: mumble)")
    parser.add_argument("--users", type=int, default=100, help="number of users (default: 100)")
    parser.add_argument("--images", type=int, default=500, help="number of images (default: 500)")
    parser.add_argument("--seed", type=int, default=42, help="random seed; equal seeds give equal data")
    parser.add_argument("--media-dir", type=Path, help="write the legacy uploads (images/, audio/) here")
    parser.add_argument("--drop", action="store_true", help="replace existing users/images collections")
    args = parser.parse_args(argv)
    try:
        spec = SampleSpec(users=args.users, images=args.images, seed=args.seed)
    except ValueError as error:
        parser.error(str(error))

    import pymongo

    client: pymongo.MongoClient = pymongo.MongoClient(args.mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        database = client[args.mongo_db]
        existing = [name for name in ("users", "images") if database[name].estimated_document_count()]
        if existing and not args.drop:
            print(f"error: {args.mongo_db} already has {', '.join(existing)}; pass --drop to replace them",
                  file=sys.stderr)
            return 2
        print(format_summary(seed(database, spec, args.media_dir)))
    except pymongo.errors.PyMongoError as error:
        print(f"error: MongoDB at {args.mongo_uri}: {error}", file=sys.stderr)
        return 2
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
