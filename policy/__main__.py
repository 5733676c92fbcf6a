"""The mumble policy pack: the rules of rules.py, mandatory, for real previews and updates.

    pulumi preview -s prod --policy-pack policy

Pulumi runs this file with the pack's own virtualenv (policy/requirements.txt); the tests run the same rule
functions over the offline plan instead, without the CLI.
"""

import os
import sys

from pulumi_policy import (EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rules import RESOURCE_RULES, STACK_RULES  # noqa: E402 (the pack directory is not a package when run)


def _resource_policy(name, rule):
    def validate(args, report_violation):
        for message in rule(args.resource_type, args.props):
            report_violation(message)
    return ResourceValidationPolicy(name=name, description=(rule.__doc__ or name).strip().splitlines()[0],
                                    enforcement_level=EnforcementLevel.MANDATORY, validate=validate)


def _stack_policy(name, rule):
    def validate(args, report_violation):
        for message in rule([(r.resource_type, r.props) for r in args.resources]):
            report_violation(message)
    return StackValidationPolicy(name=name, description=(rule.__doc__ or name).strip().splitlines()[0],
                                 enforcement_level=EnforcementLevel.MANDATORY, validate=validate)


PolicyPack(
    name="mumble",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[_resource_policy(n, r) for n, r in RESOURCE_RULES.items()]
    + [_stack_policy(n, r) for n, r in STACK_RULES.items()],
)
