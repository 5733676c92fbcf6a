"""Each mandatory rule flags a deliberately bad resource and accepts a good one (the stack tests run all rules
over every stage's mocked graph)."""

from __future__ import annotations

import json

import pytest

from policy import rules
from policy.rules import RESOURCE_RULES, STACK_RULES, evaluate


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_TABLE = {"Sid": "Table0", "Effect": "Allow", "Action": ["dynamodb:GetItem"],
               "Resource": ["arn:aws:dynamodb:us-east-1:1:table/t"]}
GOOD_BLOCK = {"bucket": "b", "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True,
              "restrictPublicBuckets": True}

BAD_AND_GOOD = {
    "no-public-buckets": [
        (rules.PUBLIC_ACCESS_BLOCK, {**GOOD_BLOCK, "blockPublicPolicy": False}, GOOD_BLOCK),
        (rules.BUCKET, {"acl": "public-read"}, {"acl": "private"}),
        (rules.BUCKET_POLICY, {"policy": _policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                  "Resource": "arn:aws:s3:::b/*"})},
         {"policy": _policy({"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
                             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})}),
    ],
    "encryption-at-rest": [
        (rules.TABLE, {"serverSideEncryption": {"enabled": False}}, {"serverSideEncryption": {"enabled": True}}),
        (rules.QUEUE, {}, {"sqsManagedSseEnabled": True}),
        (rules.TOPIC, {}, {"kmsMasterKeyId": "alias/aws/sns"}),
        (rules.BUCKET_ENCRYPTION, {"rules": [{}]},
         {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}),
    ],
    "no-iam-wildcards": [
        ("aws:iam/rolePolicy:RolePolicy", {"policy": _policy({**ALLOW_TABLE, "Action": "*"})},
         {"policy": _policy(ALLOW_TABLE)}),
        ("aws:iam/rolePolicy:RolePolicy", {"policy": _policy({**ALLOW_TABLE, "Action": ["s3:*"]})},
         {"policy": _policy({**ALLOW_TABLE, "Effect": "Deny", "Action": ["s3:*"]})}),
        ("aws:iam/policy:Policy", {"policy": _policy({**ALLOW_TABLE, "Resource": "*"})},
         {"policy": _policy(ALLOW_TABLE)}),
        ("aws:iam/role:Role", {"inlinePolicies": [{"policy": _policy({**ALLOW_TABLE, "Resource": ["*"]})}]},
         {"inlinePolicies": [{"policy": _policy(ALLOW_TABLE)}]}),
    ],
    "lambda-runtime-allow-list": [
        (rules.FUNCTION, {"runtime": "python3.8", "architectures": ["arm64"]},
         {"runtime": "python3.12", "architectures": ["arm64"]}),
        (rules.FUNCTION, {"runtime": "python3.12", "architectures": ["mips"]},
         {"runtime": "python3.12", "architectures": ["x86_64"]}),
    ],
    "log-retention-set": [
        (rules.LOG_GROUP, {"name": "/aws/lambda/x"}, {"name": "/aws/lambda/x", "retentionInDays": 14}),
    ],
    "pitr-in-staging-and-prod": [
        (rules.TABLE, {"tags": {"mumble:stage": "prod"}, "pointInTimeRecovery": {"enabled": False}},
         {"tags": {"mumble:stage": "dev"}, "pointInTimeRecovery": {"enabled": False}}),
    ],
}


def test_every_rule_has_cases() -> None:
    assert set(BAD_AND_GOOD) == set(RESOURCE_RULES)


@pytest.mark.parametrize("rule_name, resource_type, bad, good",
                         [(name, t, bad, good) for name, cases in BAD_AND_GOOD.items() for t, bad, good in cases])
def test_a_bad_resource_is_flagged_and_a_good_one_passes(rule_name, resource_type, bad, good) -> None:
    rule = RESOURCE_RULES[rule_name]
    assert rule(resource_type, bad), f"{rule_name} missed {bad}"
    assert rule(resource_type, good) == []


def test_a_bucket_without_tls_only_policy_encryption_or_block_is_flagged() -> None:
    tls = _policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b",
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    good = [(rules.BUCKET, {"bucket": "b"}), (rules.PUBLIC_ACCESS_BLOCK, GOOD_BLOCK),
            (rules.BUCKET_ENCRYPTION, {"bucket": "b"}), (rules.BUCKET_POLICY, {"bucket": "b", "policy": tls})]
    rule = STACK_RULES["buckets-private-encrypted-tls-only"]
    assert rule(good) == []
    assert rule(good[:-1]) == ["bucket 'b' lacks a TLS-only bucket policy"]
    assert rule(good[:1]) == ["bucket 'b' lacks a public access block, default encryption, a TLS-only bucket policy"]
    assert evaluate(good[:-1])["buckets-private-encrypted-tls-only"]
