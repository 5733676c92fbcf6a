"""`make bench` measures every function of the manifest: a function added without a representative event would
break the benchmark's cold-start pass, so this keeps the two in step."""

from __future__ import annotations

from types import SimpleNamespace

from local.events import representative_events
from functions.manifest import BY_NAME
from functions.shared.tables import TABLES


def test_the_benchmark_has_a_representative_event_for_every_function() -> None:
    app = SimpleNamespace(buckets={"media": "mumble-bench-media"},
                          tables={spec.logical_name: spec.physical_name("bench") for spec in TABLES.values()})
    events = representative_events(app, {"IdToken": "a.b.c"}, {"sub": "u"}, "audio/u/a.webm")  # type: ignore[arg-type]
    assert sorted(events) == sorted(BY_NAME)
