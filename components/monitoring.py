"""Alarms, their SNS topic and a dashboard: the seed plan's success metrics made visible.

Per function: errors, throttles, duration near the timeout. API: 5xx rate and p95 latency over the stage's
threshold (500 ms in the seed plan). DynamoDB throttled requests per table. Failure-queue depth. Alarms exist
where the stage enables them (prod must; dev may omit them); the dashboard exists in every stage.

The topic is encrypted with a key of its own: CloudWatch publishes an alarm only to a topic whose KMS key policy
lets cloudwatch.amazonaws.com use the key, which the AWS-managed `alias/aws/sns` key never does (alarms on such a
topic fail silently). The key policy keeps the account's IAM in charge of the key and lets CloudWatch, for this
account's alarms only, encrypt messages to the topic.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import pulumi
import pulumi_aws as aws

from components.config import StageConfig
from components.function import AppFunction

PERIOD = 300
DURATION_SHARE_OF_TIMEOUT = 0.8
API_5XX_PERCENT = 1.0


class Monitoring(pulumi.ComponentResource):
    """`topic` (None without alarms), `alarms` by name, `dashboard`."""

    def __init__(self, name: str, config: StageConfig, functions: Mapping[str, AppFunction],
                 http_api_id: pulumi.Input[str], table_names: Mapping[str, pulumi.Input[str]],
                 failure_queue_name: pulumi.Input[str], account_id: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:monitoring:Monitoring", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._prefix = f"mumble-{config.stage}"
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        self.topic: aws.sns.Topic | None = None
        if config.alarmsEnabled:
            key = aws.kms.Key(
                f"{name}-alarms", description=f"{self._prefix}: alarm topic (CloudWatch may publish to it)",
                enable_key_rotation=True, deletion_window_in_days=7,
                policy=pulumi.Output.from_input(account_id).apply(lambda account: json.dumps(
                    alarm_topic_key_policy(account, config.region))),
                opts=self._child)
            aws.kms.Alias(f"{name}-alarms", name=f"alias/{self._prefix}-alarms", target_key_id=key.key_id,
                          opts=self._child)
            self.topic = aws.sns.Topic(name, name=f"{self._prefix}-alarms", kms_master_key_id=key.arn,
                                       opts=self._child)
            if config.alarmEmail:
                aws.sns.TopicSubscription(name, topic=self.topic.arn, protocol="email", endpoint=config.alarmEmail,
                                          opts=self._child)
            self._alarms(config, functions, http_api_id, table_names, failure_queue_name)
        self.dashboard = aws.cloudwatch.Dashboard(
            name, dashboard_name=self._prefix,
            dashboard_body=pulumi.Output.all(
                api=http_api_id, functions=pulumi.Output.all(*[f.name for f in functions.values()]),
                tables=pulumi.Output.all(*table_names.values()), queue=failure_queue_name,
            ).apply(lambda r: json.dumps(dashboard_body(config, r["api"], r["functions"], r["tables"], r["queue"]))),
            opts=self._child)
        self.register_outputs({"alarmCount": len(self.alarms)})

    def _alarm(self, key: str, **args) -> None:
        assert self.topic is not None
        self.alarms[key] = aws.cloudwatch.MetricAlarm(
            f"{self._prefix}-{key}", name=f"{self._prefix}-{key}", alarm_actions=[self.topic.arn],
            ok_actions=[self.topic.arn], evaluation_periods=args.pop("evaluation_periods", 1),
            treat_missing_data="notBreaching", opts=self._child, **args)

    def _alarms(self, config: StageConfig, functions: Mapping[str, AppFunction], http_api_id: pulumi.Input[str],
                table_names: Mapping[str, pulumi.Input[str]], failure_queue_name: pulumi.Input[str]) -> None:
        for logical, function in functions.items():
            dims = {"FunctionName": function.name}
            common = dict(namespace="AWS/Lambda", dimensions=dims, period=PERIOD)
            self._alarm(f"{logical}-errors", metric_name="Errors", statistic="Sum", threshold=0,
                        comparison_operator="GreaterThanThreshold", **common)
            self._alarm(f"{logical}-throttles", metric_name="Throttles", statistic="Sum", threshold=0,
                        comparison_operator="GreaterThanThreshold", **common)
            self._alarm(f"{logical}-duration", metric_name="Duration", extended_statistic="p99",
                        threshold=function.spec.timeout_s * 1000 * DURATION_SHARE_OF_TIMEOUT,
                        comparison_operator="GreaterThanThreshold", **common)
        api_dims = {"ApiId": http_api_id, "Stage": "$default"}
        self._alarm("api-p95-latency", namespace="AWS/ApiGateway", metric_name="Latency", dimensions=api_dims,
                    period=PERIOD, extended_statistic="p95", threshold=config.p95LatencyThresholdMs,
                    comparison_operator="GreaterThanThreshold", evaluation_periods=2,
                    alarm_description="API p95 latency above the target (seed plan: 500 ms)")
        self._alarm("api-5xx-rate", threshold=API_5XX_PERCENT, comparison_operator="GreaterThanThreshold",
                    alarm_description="share of API requests answered 5xx, percent",
                    metric_queries=[
                        {"id": "errors", "return_data": False, "metric": {
                            "namespace": "AWS/ApiGateway", "metric_name": "5xx", "dimensions": api_dims,
                            "period": PERIOD, "stat": "Sum"}},
                        {"id": "requests", "return_data": False, "metric": {
                            "namespace": "AWS/ApiGateway", "metric_name": "Count", "dimensions": api_dims,
                            "period": PERIOD, "stat": "Sum"}},
                        {"id": "rate", "return_data": True, "label": "5xx %",
                         "expression": "IF(requests > 0, 100 * errors / requests, 0)"},
                    ])
        for logical, table_name in table_names.items():
            self._alarm(f"table-{logical}-throttles", threshold=0, comparison_operator="GreaterThanThreshold",
                        metric_queries=[
                            {"id": "reads", "return_data": False, "metric": {
                                "namespace": "AWS/DynamoDB", "metric_name": "ReadThrottleEvents",
                                "dimensions": {"TableName": table_name}, "period": PERIOD, "stat": "Sum"}},
                            {"id": "writes", "return_data": False, "metric": {
                                "namespace": "AWS/DynamoDB", "metric_name": "WriteThrottleEvents",
                                "dimensions": {"TableName": table_name}, "period": PERIOD, "stat": "Sum"}},
                            {"id": "throttles", "return_data": True, "expression": "reads + writes"},
                        ])
        self._alarm("failure-queue-depth", namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
                    dimensions={"QueueName": failure_queue_name}, period=PERIOD, statistic="Maximum", threshold=0,
                    comparison_operator="GreaterThanThreshold",
                    alarm_description="asynchronous invocations that failed all their retries")


def alarm_topic_key_policy(account_id: str, region: str) -> dict[str, Any]:
    """The account administers the key through IAM (AWS's default key policy); CloudWatch alarms of this account
    and region may use it to publish to the topic, and nothing else may."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministersTheKey", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account_id},
                       "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"}}},
    ]}


def dashboard_body(config: StageConfig, api_id: str, function_names: list[str], table_names: list[str],
                   queue_name: str) -> dict:
    """The same signals as the alarms, one widget each."""
    region = config.region

    def widget(title: str, metrics: list, stat: str = "Sum") -> dict:
        return {"type": "metric", "width": 12, "height": 6,
                "properties": {"title": title, "region": region, "stat": stat, "period": PERIOD, "metrics": metrics}}

    return {"widgets": [
        widget("API latency p95 (ms)", [["AWS/ApiGateway", "Latency", "ApiId", api_id, "Stage", "$default"]], "p95"),
        widget("API requests and 5xx", [["AWS/ApiGateway", "Count", "ApiId", api_id, "Stage", "$default"],
                                        ["AWS/ApiGateway", "5xx", "ApiId", api_id, "Stage", "$default"]]),
        widget("Function errors", [["AWS/Lambda", "Errors", "FunctionName", n] for n in function_names]),
        widget("Function duration p99 (ms)", [["AWS/Lambda", "Duration", "FunctionName", n]
                                              for n in function_names], "p99"),
        widget("DynamoDB throttles", [["AWS/DynamoDB", metric, "TableName", t] for t in table_names
                                      for metric in ("ReadThrottleEvents", "WriteThrottleEvents")]),
        widget("Failure queue depth", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name]],
               "Maximum"),
    ]}
