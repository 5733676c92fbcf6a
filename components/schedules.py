"""EventBridge schedules from the manifest (scheduled maintenance), each with a permission scoped to its rule.

EventBridge invokes asynchronously: the rule's own retry policy gets the event to Lambda, the function's async
invoke config (components/function.py) bounds what happens after.
"""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_aws as aws

from components.config import StageConfig
from components.function import AppFunction
from functions.manifest import FUNCTIONS


class Schedules(pulumi.ComponentResource):
    """An EventBridge rule per manifest schedule, targeting its function."""

    def __init__(self, name: str, config: StageConfig, functions: Mapping[str, AppFunction],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:schedules:Schedules", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for spec in FUNCTIONS:
            for number, schedule in enumerate(spec.schedules):
                rule_name = f"{name}-{spec.name}-{number}"
                rule = aws.cloudwatch.EventRule(rule_name, name=f"mumble-{config.stage}-{spec.name}-{number}",
                                                schedule_expression=schedule.expression,
                                                description=schedule.description, opts=child)
                aws.cloudwatch.EventTarget(rule_name, rule=rule.name, arn=functions[spec.name].target_arn,
                                           retry_policy={"maximum_retry_attempts": 2,
                                                         "maximum_event_age_in_seconds": 3600},
                                           opts=child)
                functions[spec.name].allow_invoke(rule_name, "events.amazonaws.com", rule.arn)
        self.register_outputs({})
