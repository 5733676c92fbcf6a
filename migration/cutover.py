"""`python -m migration.cutover`: move users between the legacy stack and the new one, a share at a time.

The share lives in the stage's CloudFront KeyValueStore (`weight`, 0-100 % of subjects on the new stack), which
the edge router reads on every request, so a change takes effect in seconds. Writes are conditional on the store's
ETag, so two operators cannot overwrite each other unseen. Raising the weight needs the gate (migration/gate.py)
to pass, unless `--force`; lowering it never does, so a rollback is always one command.

Exit codes: 0 done; 1 refused (gate, alarm, a concurrent change) or failed; 2 usage error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from functions.shared import stack_outputs
from functions.shared.cutover_store import KVS_SALT_KEY, KVS_WEIGHT_KEY
from functions.shared.tables import MIGRATION_STATE
from migration import gate
from migration.settings import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, stack_outputs_of
from migration.state import StateStore

EXIT_INTERRUPTED = 130
DURATION = re.compile(r"^(\d+)(s|m|h)$")
EXAMPLES = """examples:
  python -m migration.cutover status --stack prod
  python -m migration.cutover set 5 --stack prod
  python -m migration.cutover ramp --to 50 --step 5 --every 15m --alarm mumble-prod-api-5xx --rollback-on-failure \\
      --stack prod
  python -m migration.cutover rollback --stack prod
"""


class CutoverError(Exception):
    """Failed: exit code 1."""


class Refused(CutoverError):
    """Not done because the gate fails or an alarm fires: exit code 1."""


@dataclass(frozen=True)
class Split:
    weight: int
    salt: str
    etag: str


class SplitStore:
    """The weight and salt in the KeyValueStore, read and written through the cloudfront-keyvaluestore API."""

    def __init__(self, client: Any, arn: str) -> None:
        self.client, self.arn = client, arn

    def read(self) -> Split:
        try:
            etag = self.client.describe_key_value_store(KvsARN=self.arn)["ETag"]
            weight = self.client.get_key(KvsARN=self.arn, Key=KVS_WEIGHT_KEY)["Value"]
            salt = self.client.get_key(KvsARN=self.arn, Key=KVS_SALT_KEY)["Value"]
        except (ClientError, BotoCoreError) as error:
            raise CutoverError(f"cannot read the KeyValueStore {self.arn}: {error}") from None
        if not weight.isdigit() or int(weight) > 100:
            raise CutoverError(f"the store holds weight {weight!r}, not an integer 0-100; the router sends everyone "
                               "to legacy until it is fixed (`set` writes a valid one)")
        return Split(int(weight), salt, etag)

    def write_weight(self, weight: int, etag: str) -> str:
        """Conditional on `etag`: refuses when anyone changed the store since it was read."""
        try:
            return self.client.put_key(KvsARN=self.arn, Key=KVS_WEIGHT_KEY, Value=str(weight), IfMatch=etag)["ETag"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConflictException":  # the ETag no longer matches
                raise CutoverError("the store changed since it was read (another operator?); nothing written — "
                                   "check `status` and run again") from None
            raise CutoverError(f"writing the weight failed: {error}") from None
        except BotoCoreError as error:
            raise CutoverError(f"writing the weight failed: {error}") from None


@dataclass
class Context:
    store: SplitStore
    state: StateStore
    cloudwatch: Any
    max_lag: float
    out: Callable[[str], None] = print


def check_alarms(cloudwatch: Any, names: list[str]) -> list[str]:
    """The named alarms that are firing; an alarm that does not exist is an error (a typo must not pass)."""
    if not names:
        return []
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    missing = sorted(set(names) - {a["AlarmName"] for a in alarms})
    if missing:
        raise CutoverError(f"no such CloudWatch alarm: {', '.join(missing)}")
    return sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")


def set_weight(ctx: Context, weight: int, force: bool) -> Split:
    current = ctx.store.read()
    if weight == current.weight:
        ctx.out(f"weight is already {weight} %; nothing written")
        return current
    if weight > current.weight and not force:
        verdict = gate.evaluate(ctx.state, ctx.max_lag)
        if not verdict.passed:
            raise Refused("the gate fails, so the weight stays at "
                               f"{current.weight} % (--force to override):\n  - " + "\n  - ".join(verdict.failures))
    etag = ctx.store.write_weight(weight, current.etag)
    ctx.out(f"weight {current.weight} % -> {weight} % of users on the new stack (effective at the edge in seconds)")
    return Split(weight, current.salt, etag)


def ramp(ctx: Context, to: int, step: int, every: float, alarms: list[str], rollback_on_failure: bool,
         force: bool, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
         poll: float = 10.0) -> None:
    """Raise the weight by `step` every `every` seconds up to `to`, watching the gate and the alarms throughout.
    Stateless: it starts from whatever the store holds, so an interrupted ramp is resumed by running it again."""
    while True:
        current = ctx.store.read().weight
        problem = _ramp_problem(ctx, alarms, force)
        if problem:
            if rollback_on_failure and current > 0:
                set_weight(ctx, 0, force=True)
                raise Refused(f"ramp stopped and rolled back: {problem}")
            raise Refused(f"ramp stopped at {current} %: {problem}")
        if current >= to:
            ctx.out(f"ramp done: weight {current} %")
            return
        set_weight(ctx, min(to, current + step), force=True)  # the gate was just checked above
        if min(to, current + step) >= to:
            ctx.out(f"ramp done: weight {to} %")
            return
        deadline = clock() + every
        while (left := deadline - clock()) > 0:  # watch while the new share soaks
            sleep(min(poll, left))
            problem = _ramp_problem(ctx, alarms, force)
            if problem:
                break


def _ramp_problem(ctx: Context, alarms: list[str], force: bool) -> str | None:
    firing = check_alarms(ctx.cloudwatch, alarms)
    if firing:
        return f"alarm firing: {', '.join(firing)}"
    if not force:
        verdict = gate.evaluate(ctx.state, ctx.max_lag)
        if not verdict.passed:
            return "the gate fails: " + "; ".join(verdict.failures)
    return None


def status(ctx: Context, as_json: bool) -> bool:
    split = ctx.store.read()
    verdict = gate.evaluate(ctx.state, ctx.max_lag)
    if as_json:
        ctx.out(json.dumps({"weight": split.weight, "salt": split.salt, "etag": split.etag,
                            "gate": verdict.to_json()}, indent=2, default=str))
        return verdict.passed
    ctx.out(f"weight: {split.weight} % of users on the new stack (salt {split.salt!r})")
    for label, lags in verdict.lags.items():
        shown = ", ".join(f"{name} {'never ran' if lag is None else f'{lag:.1f} s'}" for name, lag in lags.items())
        ctx.out(f"sync {label}: {shown}")
    for name, result in verdict.verification.items():
        if result is None:
            ctx.out(f"verification {name}: never run")
        else:
            mismatches = sum(int(result.get(k, 0)) for k in gate.MISMATCHES)
            ctx.out(f"verification {name}: {result.get('matched', 0):,} matched, {mismatches:,} mismatches "
                    f"({result.get('at', '?')})")
    for where, conflicts in verdict.conflicts.items():
        ctx.out(f"conflicts {where}: {conflicts['count']:,} resolved by version")
        for conflict in conflicts["recent"][-5:]:
            ctx.out(f"  {conflict}")
    ctx.out("gate: PASS" if verdict.passed else "gate: FAIL\n  - " + "\n  - ".join(verdict.failures))
    return verdict.passed


def parse_duration(text: str) -> float:
    match = DURATION.match(text)
    if not match:
        raise UsageError(f"--every {text!r}: use a number and s, m or h (30s, 15m, 1h)")
    return int(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2]]


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("which stage (flags fall back to the environment variables shown)")
    where.add_argument("--stack", help="read the store ARN and state table from `pulumi stack output -s STACK`")
    where.add_argument("--stage", default=env("MUMBLE_STAGE"), help="name the state table mumble-<stage>-... "
                                                                    "[MUMBLE_STAGE]")
    where.add_argument("--store-arn", default=env("CUTOVER_STORE_ARN"),
                       help="the CloudFront KeyValueStore ARN [CUTOVER_STORE_ARN]")
    where.add_argument("--state-table", default=env("STATE_TABLE"), help="migration-state table [STATE_TABLE]")
    where.add_argument("--endpoint-url", default=env("AWS_ENDPOINT_URL"),
                       help="AWS endpoint for DynamoDB and CloudWatch, for a local one [AWS_ENDPOINT_URL]")
    where.add_argument("--region", default=env("AWS_REGION", env("AWS_DEFAULT_REGION", "us-east-1")))
    where.add_argument("--max-lag", type=float, default=gate.DEFAULT_MAX_LAG_SECONDS,
                       help="the gate's sync-lag limit in seconds (default: 60)")
    parser = argparse.ArgumentParser(prog="python -m migration.cutover", description=__doc__.split("\n\n")[0]
                                     .split(": ", 1)[1], epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("status", parents=[common], help="weight, salt, sync lag both ways, last verification, gate verdict")
    show.add_argument("--json", action="store_true")
    set_ = commands.add_parser("set", parents=[common], help="set the weight (raising it needs the gate)")
    set_.add_argument("weight", type=int, help="0-100: the %% of users on the new stack")
    set_.add_argument("--force", action="store_true", help="raise the weight even though the gate fails")
    commands.add_parser("rollback", parents=[common], help="weight 0: everyone back on the legacy stack")
    up = commands.add_parser("ramp", parents=[common], help="raise the weight step by step, watching the gate and alarms")
    up.add_argument("--to", type=int, required=True, help="the weight to end at")
    up.add_argument("--step", type=int, required=True, help="points per step")
    up.add_argument("--every", required=True, help="time between steps: 30s, 15m, 1h")
    up.add_argument("--alarm", action="append", default=[], help="a CloudWatch alarm that stops the ramp "
                                                                 "(repeatable)")
    up.add_argument("--rollback-on-failure", action="store_true", help="set weight 0 when the ramp stops")
    up.add_argument("--force", action="store_true", help="ignore the gate (alarms still stop the ramp)")
    return parser


def _context(args: argparse.Namespace, kvs: Any | None) -> Context:
    outputs = stack_outputs_of(args.stack) if args.stack else {}
    arn = args.store_arn or outputs.get(stack_outputs.CUTOVER_STORE_ARN)
    if not arn:
        raise UsageError("--store-arn (or CUTOVER_STORE_ARN, or --stack of a stage with a legacyOrigin) is required")
    stage = args.stack or args.stage
    table = args.state_table or outputs.get(stack_outputs.MIGRATION_STATE_TABLE) or (
        MIGRATION_STATE.physical_name(stage) if stage else None)
    if not table:
        raise UsageError("--state-table (or STATE_TABLE, --stage or --stack) is required")
    region = str(outputs.get(stack_outputs.REGION, args.region))
    if kvs is None:
        kvs = boto3.client("cloudfront-keyvaluestore", region_name="us-east-1")  # global API, SigV4A-signed
    return Context(SplitStore(kvs, arn), StateStore(boto3.client("dynamodb", endpoint_url=args.endpoint_url,
                                                                 region_name=region), table),
                   boto3.client("cloudwatch", endpoint_url=args.endpoint_url, region_name=region), args.max_lag)


def main(argv: list[str] | None = None, kvs: Any | None = None, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> int:
    """`kvs`: a cloudfront-keyvaluestore client to use instead of a new one (tests pass a stubbed one, as the
    local AWS endpoint has no KeyValueStore API); `sleep`/`clock`: the ramp's timing."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "set" and not 0 <= args.weight <= 100:
            raise UsageError(f"weight must be from 0 to 100 (got {args.weight})")
        if args.command == "ramp":
            every = parse_duration(args.every)
            if not 1 <= args.to <= 100 or not 1 <= args.step <= 100:
                raise UsageError(f"--to and --step must be from 1 to 100 (got --to {args.to} --step {args.step})")
        ctx = _context(args, kvs)
        if args.command == "status":
            return EXIT_OK if status(ctx, args.json) else EXIT_FAILED
        if args.command == "set":
            set_weight(ctx, args.weight, args.force)
        elif args.command == "rollback":
            set_weight(ctx, 0, force=True)
        else:
            ramp(ctx, args.to, args.step, every, args.alarm, args.rollback_on_failure, args.force, sleep, clock)
        return EXIT_OK
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CutoverError as error:
        print(f"{'refused' if isinstance(error, Refused) else 'error'}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (ClientError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; the weight stays where it is (see `status`); run the same command again to go on",
              file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
