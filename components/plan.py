"""`make plan STAGE=dev|staging|prod`: the offline plan - the resource tree the program would create for a stage,
the properties a reviewer cares about, counts per type, and the policy results. Runs under Pulumi's mocks: no
CLI, no plugins, no credentials, nothing in AWS is read, so computed values (ids, ARNs) are placeholders.
Exit 0 when every policy passes, 1 when one fails, 2 when the stage config is invalid.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import pulumi

from components.cost import total_line
from components.offline import OfflinePlan, PlannedResource, run_offline

# The properties worth a reviewer's eye, per resource type.
HIGHLIGHTS: dict[str, tuple[str, ...]] = {
    "aws:dynamodb/table:Table": ("name", "hashKey", "rangeKey", "streamViewType", "deletionProtectionEnabled"),
    "aws:lambda/function:Function": ("name", "handler", "runtime", "architectures", "memorySize", "timeout"),
    "aws:apigatewayv2/route:Route": ("routeKey", "authorizationType"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "metricName", "threshold"),
    "aws:ssm/parameter:Parameter": ("name", "type"),
    "aws:cognito/userPool:UserPool": ("name", "deletionProtection"),
    "aws:cloudfront/distribution:Distribution": ("httpVersion", "priceClass", "aliases"),
    "aws:cloudwatch/eventRule:EventRule": ("name", "scheduleExpression"),
    "aws:s3/bucketObjectv2:BucketObjectv2": ("key", "contentType", "cacheControl"),
}


def _describe(resource: PlannedResource) -> str:
    fields = []
    for key in HIGHLIGHTS.get(resource.type, ()):
        value = resource.inputs.get(key)
        if value not in (None, "", []):
            fields.append(f"{key}={value}")
    if resource.type == "aws:dynamodb/table:Table":
        fields.append(f"pitr={resource.inputs.get('pointInTimeRecovery', {}).get('enabled')}")
    flags = [flag for flag, on in (("protected", resource.protect), ("retained", resource.retain_on_delete)) if on]
    return f"{resource.type} {resource.name}" + (f"  [{', '.join(flags)}]" if flags else "") + \
        (f"  {' '.join(fields)}" if fields else "")


def render(plan: OfflinePlan) -> tuple[str, bool]:
    """The printable plan and whether every policy passed."""
    from policy.rules import evaluate

    lines = [f"OFFLINE PLAN for stack {plan.stage!r} - Pulumi mocks; no cloud was contacted, ids and ARNs are "
             "placeholders", ""]

    def walk(parent: str, depth: int) -> None:
        for resource in plan.children(parent):
            lines.append("  " * depth + _describe(resource))
            walk(resource.urn, depth + 1)

    roots = {r.parent for r in plan.resources if r.parent.split("::")[2:3] == ["pulumi:pulumi:Stack"]}
    for root in sorted(roots):
        walk(root, 0)
    lines += ["", f"{len(plan.resources)} resources:"]
    lines += [f"  {count:4d}  {type_}" for type_, count in sorted(Counter(r.type for r in plan.resources).items())]
    results = evaluate([(r.type, r.inputs, r.urn, r.property_dependencies) for r in plan.resources if r.custom])
    lines += ["", "policies (mandatory):"]
    for rule, problems in results.items():
        lines.append(f"  {'FAIL' if problems else 'pass'}  {rule}")
        lines += [f"          {problem}" for problem in problems]
    lines += ["", "outputs:"] + [f"  {key} = {value}" for key, value in sorted(plan.outputs.items())]
    lines += ["", total_line(plan)]
    return "\n".join(lines), not any(results.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.plan", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", default="dev", help="stack to plan, read from Pulumi.<stage>.yaml (default dev)")
    args = parser.parse_args(argv)
    try:
        plan = run_offline(args.stage)
    except pulumi.RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text, passed = render(plan)
    print(text)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
