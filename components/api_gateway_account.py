"""The account-and-region setting API Gateway needs before any WebSocket stage may write access logs: the IAM role
it pushes to CloudWatch Logs with. On an account where it was never set, creating the stage fails ("CloudWatch
Logs role ARN must be set in account settings to enable logging").

It is one setting per account and region, not per stack, so both resources are retained on delete: destroying
dev never leaves another stage's API Gateway pointing at a deleted role. Every stage that manages it
(`mumble:manageApiGatewayAccount`, on by default so a first `pulumi up` in a fresh account works) has an
identical role of its own; the setting names the role of the stage deployed last. An account whose setting is
owned elsewhere (a landing zone, another project) turns the key off.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.iam import assume_role_policy

# AWS's managed policy for exactly this purpose (log groups and streams of API Gateway's execution logs).
PUSH_TO_CLOUDWATCH_LOGS = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


class ApiGatewayAccount(pulumi.ComponentResource):
    """`account`: the setting, for API Gateway stages to depend on."""

    def __init__(self, name: str, stage: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:api_gateway_account:ApiGatewayAccount", name, None, opts)
        retained = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        role = aws.iam.Role(name, name=f"mumble-{stage}-apigateway-logs",
                            assume_role_policy=assume_role_policy("apigateway.amazonaws.com"),
                            description="API Gateway writes its access and execution logs to CloudWatch Logs",
                            opts=retained)
        attachment = aws.iam.RolePolicyAttachment(name, role=role.name, policy_arn=PUSH_TO_CLOUDWATCH_LOGS,
                                                  opts=retained)
        self.account = aws.apigateway.Account(
            name, cloudwatch_role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, depends_on=[attachment]))
        self.register_outputs({"cloudwatchRoleArn": role.arn})
