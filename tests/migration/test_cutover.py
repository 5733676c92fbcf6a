"""`python -m migration.cutover` against botocore's Stubber for the KeyValueStore API (the local AWS endpoint does
not emulate it) and the real local endpoint for the state table and CloudWatch alarms."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from functions.shared.tables import MIGRATION_STATE
from functions.shared.versions import now_timestamp
from local.aws import LocalAws, create_tables
from migration import cutover
from migration.state import StateStore

ARN = "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


@pytest.fixture
def state(local_aws: LocalAws) -> StateStore:
    create_tables(local_aws, [MIGRATION_STATE])
    return StateStore(local_aws.client("dynamodb"), MIGRATION_STATE.physical_name("test"))


@pytest.fixture
def kvs() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("cloudfront-keyvaluestore", region_name="us-east-1", aws_access_key_id="a",
                          aws_secret_access_key="b")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def healthy(state: StateStore, lag: float = 0.5, mismatches: int = 0) -> None:
    now = now_timestamp()
    for collection in ("users", "images"):
        for direction in ("sync", "reverse"):
            state.save_document(f"{direction}#{collection}", {"lagSeconds": lag, "at": now})
        state.save_document(f"verify#{collection}", {"matched": 10, "missing": 0, "extra": 0,
                                                     "different": mismatches, "media_mismatched": 0, "at": now})


def expect_read(stubber: Stubber, weight: int | str, etag: str = "E1", salt: str = "mumble-test") -> None:
    stubber.add_response("describe_key_value_store", {"KvsARN": ARN, "ETag": etag, "Created": 0,
                                                      "ItemCount": 2, "TotalSizeInBytes": 20}, {"KvsARN": ARN})
    for key, value in (("weight", str(weight)), ("salt", salt)):
        stubber.add_response("get_key", {"Key": key, "Value": value, "ItemCount": 2, "TotalSizeInBytes": 20},
                             {"KvsARN": ARN, "Key": key})


def expect_put(stubber: Stubber, weight: int, etag: str = "E1", new_etag: str = "E2") -> None:
    stubber.add_response("put_key", {"ItemCount": 2, "TotalSizeInBytes": 20, "ETag": new_etag},
                         {"KvsARN": ARN, "Key": "weight", "Value": str(weight), "IfMatch": etag})


def run(kvs: tuple[Any, Stubber], *argv: str, **kwargs: Any) -> int:
    return cutover.main([*argv, "--store-arn", ARN, "--stage", "test"], kvs=kvs[0], **kwargs)


class FakeTime:
    """The ramp's clock: sleeping advances it at once; `on_sleep` runs on every sleep (an operator, an alarm)."""

    def __init__(self, on_sleep: Any = None) -> None:
        self.now, self.slept, self.on_sleep = 0.0, 0, on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += 1
        if self.on_sleep:
            self.on_sleep(self)


# --- set / rollback ---------------------------------------------------------------------------------------------

def test_set_raises_the_weight_with_a_conditional_write_when_the_gate_passes(state, kvs, capsys) -> None:
    healthy(state)
    expect_read(kvs[1], 5, etag="E7")
    expect_put(kvs[1], 25, etag="E7")
    assert run(kvs, "set", "25") == 0
    assert "weight 5 % -> 25 %" in capsys.readouterr().out


def test_set_refuses_to_raise_while_the_gate_fails_and_writes_nothing(state, kvs, capsys) -> None:
    healthy(state, mismatches=3)
    state.save_document("reverse#images", {"lagSeconds": 400, "at": now_timestamp()})
    expect_read(kvs[1], 5)
    assert run(kvs, "set", "25") == 1  # the Stubber has no put_key queued: a write would fail the test
    err = capsys.readouterr().err
    assert "refused: the gate fails, so the weight stays at 5 %" in err
    assert "aws -> legacy sync of images is 400 s behind" in err and "found 3 mismatches" in err


def test_a_sync_that_stopped_reporting_counts_as_lag(state, kvs, capsys) -> None:
    healthy(state)
    state.save_document("sync#users", {"lagSeconds": 0.0, "at": "2020-01-01T00:00:00Z"})
    expect_read(kvs[1], 5)
    assert run(kvs, "set", "10") == 1
    assert "legacy -> aws sync of users is" in capsys.readouterr().err


def test_force_overrides_the_gate_and_lowering_or_rollback_never_needs_it(state, kvs) -> None:
    expect_read(kvs[1], 5)
    expect_put(kvs[1], 25)
    assert run(kvs, "set", "25", "--force") == 0  # nothing recorded at all: the gate fails
    expect_read(kvs[1], 25, etag="E2")
    expect_put(kvs[1], 10, etag="E2", new_etag="E3")
    assert run(kvs, "set", "10") == 0
    expect_read(kvs[1], 10, etag="E3")
    expect_put(kvs[1], 0, etag="E3", new_etag="E4")
    assert run(kvs, "rollback") == 0


def test_a_concurrent_change_is_reported_and_not_overwritten(state, kvs, capsys) -> None:
    healthy(state)
    expect_read(kvs[1], 5, etag="E1")
    kvs[1].add_client_error("put_key", "ConflictException", "Resource is not in expected state.", 409,
                            expected_params={"KvsARN": ARN, "Key": "weight", "Value": "6", "IfMatch": "E1"})
    assert run(kvs, "set", "6") == 1
    assert "the store changed since it was read" in capsys.readouterr().err


def test_a_broken_weight_in_the_store_is_named(state, kvs, capsys) -> None:
    expect_read(kvs[1], "lots")
    assert run(kvs, "status") == 1
    assert "the store holds weight 'lots'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["set", "101"], "weight must be from 0 to 100"),
    (["set", "-1"], "weight must be from 0 to 100"),
    (["ramp", "--to", "50", "--step", "5", "--every", "soon"], "--every 'soon'"),
    (["ramp", "--to", "0", "--step", "5", "--every", "1m"], "--to and --step must be from 1 to 100"),
])
def test_bad_arguments_exit_2_before_touching_anything(state, kvs, capsys, argv, message) -> None:
    assert run(kvs, *argv) == 2
    assert message in capsys.readouterr().err


def test_without_a_store_arn_it_says_which_flag_is_missing(monkeypatch, capsys) -> None:
    monkeypatch.delenv("CUTOVER_STORE_ARN", raising=False)
    assert cutover.main(["status", "--stage", "test"]) == 2
    assert "--store-arn" in capsys.readouterr().err


# --- status -----------------------------------------------------------------------------------------------------

def test_status_shows_weight_lag_verification_conflicts_and_the_verdict(state, kvs, capsys) -> None:
    healthy(state, lag=1.5)
    state.save_document("sync#images", {"lagSeconds": 2.0, "at": now_timestamp(),
                                         "conflicts": 2, "recentConflicts": [{"id": "abc", "winner": "aws"}]})
    expect_read(kvs[1], 25)
    assert run(kvs, "status") == 0
    out = capsys.readouterr().out
    assert "weight: 25 % of users on the new stack (salt 'mumble-test')" in out
    # the reported lag is the sync's own figure plus the heartbeat's age, so it can only grow from 1.5 s
    users_lag = float(re.search(r"sync legacy -> aws: users ([0-9.]+) s", out).group(1))
    assert 1.5 <= users_lag < 10 and "verification images: 10 matched, 0 mismatches" in out
    assert "conflicts legacy -> aws images: 2 resolved by version" in out and "gate: PASS" in out
    expect_read(kvs[1], 25)
    assert run(kvs, "status", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["weight"] == 25 and document["gate"]["passed"] is True


# --- ramp -------------------------------------------------------------------------------------------------------

def test_ramp_steps_up_and_watches_while_each_step_soaks(state, kvs, capsys) -> None:
    healthy(state)
    for current, etag in ((0, "E1"), (5, "E2")):
        expect_read(kvs[1], current, etag)  # the loop's look at the store
        expect_read(kvs[1], current, etag)  # set_weight's conditional read-then-write
        expect_put(kvs[1], current + 5, etag, f"E{int(etag[1]) + 1}")
    timer = FakeTime()
    assert run(kvs, "ramp", "--to", "10", "--step", "5", "--every", "1m", sleep=timer.sleep, clock=timer.clock) == 0
    assert timer.now == 60 and timer.slept == 6  # one soak of 60 s, the gate and alarms checked every 10 s
    out = capsys.readouterr().out
    assert "weight 0 % -> 5 %" in out and "weight 5 % -> 10 %" in out and "ramp done: weight 10 %" in out


def test_an_interrupted_ramp_goes_on_from_where_the_store_is(state, kvs, capsys) -> None:
    healthy(state)
    expect_read(kvs[1], 0)
    expect_read(kvs[1], 0)
    expect_put(kvs[1], 5)

    def interrupt(_: FakeTime) -> None:
        raise KeyboardInterrupt

    timer = FakeTime(interrupt)
    assert run(kvs, "ramp", "--to", "10", "--step", "5", "--every", "1m", sleep=timer.sleep, clock=timer.clock) == 130
    assert "run the same command again" in capsys.readouterr().err
    expect_read(kvs[1], 5, "E2")
    expect_read(kvs[1], 5, "E2")
    expect_put(kvs[1], 10, "E2", "E3")
    timer = FakeTime()
    assert run(kvs, "ramp", "--to", "10", "--step", "5", "--every", "1m", sleep=timer.sleep, clock=timer.clock) == 0
    assert "weight 5 % -> 10 %" in capsys.readouterr().out


def test_a_firing_alarm_stops_the_ramp_and_rolls_back_when_asked(state, kvs, local_aws, capsys) -> None:
    healthy(state)
    cloudwatch = local_aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName="mumble-test-api-5xx", MetricName="5xx", Namespace="AWS/ApiGateway",
                                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                                ComparisonOperator="GreaterThanOrEqualToThreshold")
    cloudwatch.set_alarm_state(AlarmName="mumble-test-api-5xx", StateValue="OK", StateReason="quiet")
    expect_read(kvs[1], 0)
    expect_read(kvs[1], 0)
    expect_put(kvs[1], 5)
    expect_read(kvs[1], 5, "E2")  # the loop's look after the soak broke off
    expect_read(kvs[1], 5, "E2")  # the rollback's read-then-write
    expect_put(kvs[1], 0, "E2", "E3")

    def errors_start(timer: FakeTime) -> None:
        if timer.slept == 2:
            cloudwatch.set_alarm_state(AlarmName="mumble-test-api-5xx", StateValue="ALARM", StateReason="5xx")

    timer = FakeTime(errors_start)
    assert run(kvs, "ramp", "--to", "50", "--step", "5", "--every", "10m", "--alarm", "mumble-test-api-5xx",
               "--rollback-on-failure", sleep=timer.sleep, clock=timer.clock) == 1
    err = capsys.readouterr().err
    assert "ramp stopped and rolled back: alarm firing: mumble-test-api-5xx" in err
    assert timer.slept == 2  # stopped at the first look after the alarm fired, not at the end of the soak


def test_a_misspelt_alarm_name_stops_the_ramp_before_it_starts(state, kvs, local_aws, capsys) -> None:
    healthy(state)
    expect_read(kvs[1], 0)
    assert run(kvs, "ramp", "--to", "50", "--step", "5", "--every", "1m", "--alarm", "no-such-alarm") == 1
    assert "no such CloudWatch alarm: no-such-alarm" in capsys.readouterr().err


# --- the real client ----------------------------------------------------------------------------------------------

def test_the_keyvaluestore_client_signs_with_sigv4a() -> None:
    """The API accepts only SigV4A, which botocore signs with the AWS CRT (botocore[crt] in requirements.txt)."""
    client = boto3.client("cloudfront-keyvaluestore", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                          aws_secret_access_key="secret")
    seen: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> AWSResponse:
        seen["authorization"] = request.headers["Authorization"].decode()
        seen["url"] = request.url
        body = json.dumps({"KvsARN": ARN, "ETag": "E1"}).encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(body))

    client.meta.events.register("before-send", capture)
    assert client.describe_key_value_store(KvsARN=ARN)["ETag"] == "E1"
    assert seen["authorization"].startswith("AWS4-ECDSA-P256-SHA256 ")
    assert "cloudfront-kvs.global.api.aws" in seen["url"]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


@pytest.mark.parametrize("command", ["status", "set", "rollback", "ramp"])
def test_every_command_explains_itself(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        cutover.main([command, "--help"])
    assert done.value.code == 0 and "--store-arn" in capsys.readouterr().out
