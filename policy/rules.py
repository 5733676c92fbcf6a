"""The mandatory policy rules, as pure functions over (resource type, properties).

Properties are the camelCase inputs Pulumi sends to a policy pack, which are also what the offline mocks
record, so the same functions run in the tests over the mocked graph and in real previews
(`pulumi preview --policy-pack policy`, see __main__.py). Each returns a list of violation messages (empty = ok).

Resource rules see one resource; stack rules see all of them (e.g. "every bucket has a TLS-only policy" needs
the bucket and its policy). The stage is read from the `mumble:stage` tag the program puts on stateful resources.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping, Sequence

Props = Mapping[str, Any]
Resource = tuple[str, Props]

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
IAM_DOCUMENTS = {  # resource type -> properties holding policy documents
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/role:Role": ("inlinePolicies",),
}


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, Mapping):
        return []
    statements = document.get("Statement", [])
    return [s for s in ([statements] if isinstance(statements, Mapping) else statements) if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


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
        documents = [d.get("policy") for d in documents] if isinstance(documents, list) else [documents]
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

def _props_of(resources: Sequence[Resource], resource_type: str) -> list[Props]:
    return [props for type_, props in resources if type_ == resource_type]


def every_bucket_private_encrypted_tls_only(resources: Sequence[Resource]) -> list[str]:
    """Each bucket has a full public access block, a default encryption and a policy denying non-TLS access."""
    buckets = [props.get("bucket") for props in _props_of(resources, BUCKET)]
    blocked = {p.get("bucket") for p in _props_of(resources, PUBLIC_ACCESS_BLOCK)}
    encrypted = {p.get("bucket") for p in _props_of(resources, BUCKET_ENCRYPTION)}
    tls_only = {p.get("bucket") for p in _props_of(resources, BUCKET_POLICY)
                if any(s.get("Effect") == "Deny"
                       and (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                       for s in _statements(p.get("policy")))}
    problems = []
    for bucket in buckets:
        missing = [what for what, having in (("a public access block", blocked), ("default encryption", encrypted),
                                             ("a TLS-only bucket policy", tls_only)) if bucket not in having]
        if missing:
            problems.append(f"bucket {bucket!r} lacks {', '.join(missing)}")
    return problems


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
}


def evaluate(resources: Sequence[Resource]) -> dict[str, list[str]]:
    """Every rule over every resource: rule name -> violations (prefixed with the resource type)."""
    results: dict[str, list[str]] = {name: [] for name in (*RESOURCE_RULES, *STACK_RULES)}
    for name, rule in RESOURCE_RULES.items():
        for resource_type, props in resources:
            results[name].extend(f"{resource_type}: {message}" for message in rule(resource_type, props))
    for name, stack_rule in STACK_RULES.items():
        results[name].extend(stack_rule(resources))
    return results
