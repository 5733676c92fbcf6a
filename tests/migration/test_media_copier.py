"""The media copier against the local S3: conditional PUTs on a first load, HEADs only where earlier runs left
objects, and back to conditional PUTs once past them."""

from __future__ import annotations

from local.sample_data import SampleSpec
from migration.collections import mappers
from migration.media import MediaCopier, stored_checksum

SPEC = SampleSpec(users=5, images=40, seed=9)
BUCKET = "mumble-test-media"


def test_a_resumed_copy_asks_only_where_earlier_runs_uploaded(legacy) -> None:
    mapper = mappers(legacy["uploads"])["images"]
    files = []
    for doc in legacy["db"].images.find(sort=[("_id", 1)]):
        try:
            files.extend(mapper.convert(doc).media)
        except Exception:  # noqa: BLE001 - dead-lettered documents carry no media
            pass
    assert len(files) >= 30
    s3 = legacy["aws"].client("s3")
    first = MediaCopier(s3, BUCKET, legacy["uploads"], workers=1)
    assert sum(first.copy(media) for media in files[:10]) == 10
    heads = []
    s3.meta.events.register("before-send.s3.HeadObject", lambda request, **_: heads.append(request.url))
    resumed = MediaCopier(s3, BUCKET, legacy["uploads"], workers=1)
    assert sum(resumed.copy(media) for media in files) == len(files) - 10  # nothing uploaded twice
    assert len(heads) == 10 + 2  # the ten that were there, then 2 x workers misses and back to conditional PUTs
    assert all(stored_checksum(s3, BUCKET, media.key) == media.sha256 for media in files)
