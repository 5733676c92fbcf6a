"""The mumble policy pack: the rules of rules.py, mandatory, for real previews and updates.

    make policy-venv                                   # once: policy/venv from policy/requirements.txt
    pulumi preview -s prod --policy-pack policy

The CLI starts this file with the interpreter of `runtime.options.virtualenv` in PulumiPolicy.yaml (policy/venv;
the CLI does not create it for a local pack). The tests run the same rule functions over the offline plan, and
the deploy rehearsal (`make rehearse`) starts this pack exactly as the CLI does and feeds it every stage's plan.

pulumi-policy hands rules proxies that raise on any value a preview cannot know yet; the rules get plain data
instead, with such values as `rules.UNKNOWN`, so a rule decides what an unknown means rather than being turned
into an advisory "can't run during preview".
"""

import os
import sys
from collections.abc import Mapping, Sequence

from pulumi_policy import (EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rules import RESOURCE_RULES, STACK_RULES, UNKNOWN, Resource  # noqa: E402 (the pack dir is not a package)

# The engine's markers for values not known during a preview (pulumi-policy's proxy.py), by kind.
UNKNOWN_MARKERS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7", "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "030794c1-ac77-496b-92df-f27374a8bd58", "e48ece36-62e2-4504-bad9-02848725956a",
})


def plain(value):
    """Proxies unwrapped into dicts and lists; the engine's unknown markers into UNKNOWN."""
    if isinstance(value, Mapping):
        target = value["__target"] if hasattr(value, "_DictProxy__target") else value
        return {key: plain(item) for key, item in target.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        target = value["__target"] if hasattr(value, "_ListProxy__target") else value
        return [plain(item) for item in target]
    if isinstance(value, str) and value in UNKNOWN_MARKERS:
        return UNKNOWN
    return value


def _resource_policy(name, rule):
    def validate(args, report_violation):
        for message in rule(args.resource_type, plain(args.props)):
            report_violation(message)
    return ResourceValidationPolicy(name=name, description=(rule.__doc__ or name).strip().splitlines()[0],
                                    enforcement_level=EnforcementLevel.MANDATORY, validate=validate)


def _stack_policy(name, rule):
    def validate(args, report_violation):
        resources = [Resource(r.resource_type, plain(r.props), r.urn,
                              {key: [d.urn for d in deps] for key, deps in r.property_dependencies.items()})
                     for r in args.resources]
        for message in rule(resources):
            report_violation(message)
    return StackValidationPolicy(name=name, description=(rule.__doc__ or name).strip().splitlines()[0],
                                 enforcement_level=EnforcementLevel.MANDATORY, validate=validate)


PolicyPack(
    name="mumble",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[_resource_policy(n, r) for n, r in RESOURCE_RULES.items()]
    + [_stack_policy(n, r) for n, r in STACK_RULES.items()],
)
