"""The mandatory policy rules, as pure functions over (resource type, properties).

Properties are the camelCase inputs Pulumi sends to a policy pack, which are also what the offline mocks
record, so the same functions run in the tests over the mocked graph and in real previews
(`pulumi preview --policy-pack policy`, see __main__.py). Each returns a list of violation messages (empty = ok).

Resource rules see one resource; stack rules see all of them (e.g. "every bucket has a TLS-only policy" needs
the bucket and its policy). The stage is read from the `mumble:stage` tag the program puts on stateful resources.

Values a first preview cannot know yet (ids, ARNs of resources not yet created) arrive as `UNKNOWN` (the pack
turns the engine's unknown marker into it). Rules never guess about them and never fail on them: they relate
resources by what is known at preview (the URNs a property depends on, not the ids in it) and check every known
value. A document whose text is still unknown (a policy naming an ARN that does not exist yet) is checked by the
same mandatory rule when `pulumi up` registers the resource with its resolved inputs, before it is created.
"""

from __future__ import annotations

import json
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence as SequenceABC
from typing import Any, Callable, Mapping, NamedTuple, Sequence

Props = Mapping[str, Any]


class _Unknown:
    """A value a preview cannot know yet."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


class Resource(NamedTuple):
    """What a stack rule sees of a resource; `depends` maps a property to the URNs its value comes from."""

    type: str
    props: Props
    urn: str = ""
    depends: Mapping[str, Sequence[str]] = {}

ALLOWED_RUNTIMES = ("python3.12",)
ALLOWED_ARCHITECTURES = ("arm64", "x86_64")
STRICT_STAGES = ("staging", "prod")
# Documented exceptions to "no `*` resource": actions that have no resource-level permissions in IAM.
# (Statement Sid -> why.) Every other statement the stack writes names its ARNs.
WILDCARD_RESOURCE_EXCEPTIONS: Mapping[str, str] = {
    "VpcDescribe": "ec2:DescribeNetworkInterfaces/DescribeSubnets have no resource-level permissions; Lambda needs "
                   "them to attach a function (reverseSync) to the legacy database's VPC",
}

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
AWS_MANAGED_SNS_KEY = "alias/aws/sns"  # its key policy cannot be changed to let CloudWatch use it
IAM_DOCUMENTS = {  # resource type -> properties holding policy documents
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/role:Role": ("inlinePolicies",),
}


def _is_list(value: Any) -> bool:
    """Lists as the tests pass them and as pulumi-policy's proxies wrap them (a Sequence, not a list)."""
    return isinstance(value, SequenceABC) and not isinstance(value, (str, bytes))


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, MappingABC):
        return []
    statements = document.get("Statement", [])
    listed = [statements] if isinstance(statements, MappingABC) else statements if _is_list(statements) else []
    return [s for s in listed if isinstance(s, MappingABC)]


def _as_list(value: Any) -> list[Any]:
    return list(value) if _is_list(value) else [value]


# --- resource rules ------------------------------------------------------------------------------------------

def no_public_buckets(resource_type: str, props: Props) -> list[str]:
    """Public access blocks block everything; no public ACL; no bucket policy allowing anyone."""
    if resource_type == PUBLIC_ACCESS_BLOCK:
        off = [k for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
               if props.get(k) is not True]
        return [f"public access block must set {', '.join(off)} to true"] if off else []
    if resource_type == BUCKET and str(props.get("acl", "private")).startswith("public"):
        return [f"bucket ACL {props['acl']!r} makes it public"]
    if resource_type == BUCKET_POLICY:
        return [f"bucket policy statement {s.get('Sid', '?')!r} allows any principal"
                for s in _statements(props.get("policy"))
                if s.get("Effect") == "Allow" and s.get("Principal") in ("*", {"AWS": "*"})]
    return []


def encryption_at_rest(resource_type: str, props: Props) -> list[str]:
    if resource_type == TABLE and not (props.get("serverSideEncryption") or {}).get("enabled"):
        return ["DynamoDB table must enable serverSideEncryption (KMS)"]
    if resource_type == QUEUE and not (props.get("sqsManagedSseEnabled") or props.get("kmsMasterKeyId")):
        return ["SQS queue must be encrypted (sqsManagedSseEnabled or kmsMasterKeyId)"]
    if resource_type == TOPIC and not props.get("kmsMasterKeyId"):
        return ["SNS topic must be encrypted (kmsMasterKeyId)"]
    if resource_type == BUCKET_ENCRYPTION:
        rules = props.get("rules") or []
        if not any((r.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") for r in rules):
            return ["bucket encryption configuration must set a default sseAlgorithm"]
    return []


def no_iam_wildcards(resource_type: str, props: Props) -> list[str]:
    """No Allow statement with a `*` (or `service:*`) action, or a `*` resource, outside documented exceptions."""
    problems: list[str] = []
    for key in IAM_DOCUMENTS.get(resource_type, ()):
        documents = props.get(key)
        documents = ([d.get("policy") for d in documents if isinstance(d, MappingABC)] if _is_list(documents)
                     else [documents])
        for statement in (s for d in documents for s in _statements(d)):
            if statement.get("Effect") != "Allow":
                continue
            sid = statement.get("Sid", "?")
            actions = [a for a in _as_list(statement.get("Action", [])) if a == "*" or str(a).endswith(":*")]
            if actions:
                problems.append(f"statement {sid!r} allows wildcard actions {actions}")
            if "*" in _as_list(statement.get("Resource", [])) and sid not in WILDCARD_RESOURCE_EXCEPTIONS:
                problems.append(f"statement {sid!r} allows its actions on every resource ('*')")
    return problems


def lambda_runtime_allowed(resource_type: str, props: Props) -> list[str]:
    if resource_type != FUNCTION:
        return []
    problems = []
    if props.get("runtime") not in ALLOWED_RUNTIMES:
        problems.append(f"runtime {props.get('runtime')!r} is not one of {', '.join(ALLOWED_RUNTIMES)}")
    architectures = props.get("architectures") or ["x86_64"]  # Lambda's default when unset
    if not set(architectures) <= set(ALLOWED_ARCHITECTURES) or len(architectures) != 1:
        problems.append(f"architectures {architectures} must be exactly one of {', '.join(ALLOWED_ARCHITECTURES)}")
    return problems


def log_retention_set(resource_type: str, props: Props) -> list[str]:
    if resource_type == LOG_GROUP and not props.get("retentionInDays"):
        return ["log group must set retentionInDays (logs otherwise never expire)"]
    return []


def pitr_in_strict_stages(resource_type: str, props: Props) -> list[str]:
    stage = (props.get("tags") or {}).get("mumble:stage")
    if resource_type == TABLE and stage in STRICT_STAGES and not (props.get("pointInTimeRecovery") or {}).get("enabled"):
        return [f"DynamoDB table in {stage} must enable point-in-time recovery"]
    return []


# --- stack rules ---------------------------------------------------------------------------------------------

def _linked(resources: Sequence[Resource], resource_type: str, bucket: Resource) -> list[Resource]:
    """The resources of `resource_type` configuring `bucket`: their `bucket` property comes from the bucket's URN
    (known at any preview), or, where no dependencies are recorded, holds the bucket's known name."""
    name = bucket.props.get("bucket")
    return [r for r in resources if r.type == resource_type and (
        bucket.urn in r.depends.get("bucket", ()) if r.depends.get("bucket")
        else name is not None and name is not UNKNOWN and r.props.get("bucket") == name)]


def _denies_plain_http(policy: Resource) -> bool:
    """A TLS-only statement, or a document not known before `pulumi up` (the rule runs again on it then)."""
    document = policy.props.get("policy")
    return document is UNKNOWN or any(
        s.get("Effect") == "Deny" and (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in _statements(document))


def every_bucket_private_encrypted_tls_only(resources: Sequence[Resource]) -> list[str]:
    """Each bucket has a full public access block, a default encryption and a policy denying non-TLS access."""
    resources = [_resource(r) for r in resources]
    problems = []
    for bucket in (r for r in resources if r.type == BUCKET):
        missing = [what for what, found in (
            ("a public access block", _linked(resources, PUBLIC_ACCESS_BLOCK, bucket)),
            ("default encryption", _linked(resources, BUCKET_ENCRYPTION, bucket)),
            ("a TLS-only bucket policy", [p for p in _linked(resources, BUCKET_POLICY, bucket)
                                          if _denies_plain_http(p)])) if not found]
        if missing:
            problems.append(f"bucket {_label(bucket)!r} lacks {', '.join(missing)}")
    return problems


def alarm_topics_usable_by_cloudwatch(resources: Sequence[Resource]) -> list[str]:
    """CloudWatch can publish an alarm only to a topic whose KMS key policy lets cloudwatch.amazonaws.com use
    the key; the AWS-managed `alias/aws/sns` key's policy cannot, so alarms on such a topic never notify."""
    resources = [_resource(r) for r in resources]
    targets = {urn for alarm in resources if alarm.type == ALARM
               for key in ("alarmActions", "okActions", "insufficientDataActions")
               for urn in alarm.depends.get(key, ())}
    return [f"alarm topic {_label(topic)!r} is encrypted with {AWS_MANAGED_SNS_KEY}, which CloudWatch cannot use: "
            "alarms would never notify (use a customer-managed key that allows cloudwatch.amazonaws.com)"
            for topic in resources if topic.type == TOPIC and topic.urn in targets
            and topic.props.get("kmsMasterKeyId") == AWS_MANAGED_SNS_KEY]


def _resource(value: Resource | tuple[Any, ...]) -> Resource:
    return value if isinstance(value, Resource) else Resource(*value)


def _label(resource: Resource) -> str:
    name = resource.props.get("name") or resource.props.get("bucket")
    return name if isinstance(name, str) else resource.urn.rsplit("::", 1)[-1]


ResourceRule = Callable[[str, Props], list[str]]
StackRule = Callable[[Sequence[Resource]], list[str]]

RESOURCE_RULES: Mapping[str, ResourceRule] = {
    "no-public-buckets": no_public_buckets,
    "encryption-at-rest": encryption_at_rest,
    "no-iam-wildcards": no_iam_wildcards,
    "lambda-runtime-allow-list": lambda_runtime_allowed,
    "log-retention-set": log_retention_set,
    "pitr-in-staging-and-prod": pitr_in_strict_stages,
}
STACK_RULES: Mapping[str, StackRule] = {
    "buckets-private-encrypted-tls-only": every_bucket_private_encrypted_tls_only,
    "alarm-topics-usable-by-cloudwatch": alarm_topics_usable_by_cloudwatch,
}


def evaluate(resources: Sequence[Resource | tuple[Any, ...]]) -> dict[str, list[str]]:
    """Every rule over every resource: rule name -> violations (prefixed with the resource type)."""
    known = [_resource(r) for r in resources]
    results: dict[str, list[str]] = {name: [] for name in (*RESOURCE_RULES, *STACK_RULES)}
    for name, rule in RESOURCE_RULES.items():
        for resource in known:
            results[name].extend(f"{resource.type}: {message}" for message in rule(resource.type, resource.props))
    for name, stack_rule in STACK_RULES.items():
        results[name].extend(stack_rule(known))
    return results
