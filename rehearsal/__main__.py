"""`make rehearse STAGE=prod` (or `python -m rehearsal --stage dev --stage staging --stage prod`): everything
`pulumi up -s <stage>` does before it talks to AWS, for real, with one line per problem; exit 0 when nothing was
found, 1 otherwise. What only a real account can prove (the first deploy, DNS, certificate validation) is listed in
the README under "What has been verified".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import pulumi

from components.offline import OfflinePlan, run_offline
from components.packaging import find_python
from components.stack import BUILD_DIR, PROJECT_ROOT, PYTHON_VERSION
from rehearsal import artifacts, config_rules, lambda_python, limits, policy_pack, site, tools
from rehearsal.result import Result

STAGES = ("dev", "staging", "prod")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rehearsal", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", action="append", choices=STAGES, required=True,
                        help="stage to rehearse (repeat for several; the stage-independent checks run once)")
    args = parser.parse_args(argv)
    results: list[Result] = []

    def run(check: Callable[[], Result]) -> Result:
        started = time.perf_counter()
        result = check()
        result.figures.append(f"({time.perf_counter() - started:.1f} s)")
        _print(result)
        results.append(result)
        return result

    reproduced: set[str] = set()  # architectures whose layer was rebuilt elsewhere already
    for stage in dict.fromkeys(args.stage):
        print(f"\n=== rehearsal of `pulumi up -s {stage}` ===")
        run(lambda: config_rules.check(PROJECT_ROOT, stage))
        plans: dict[str, OfflinePlan] = {}
        program = run(lambda: _program(stage, plans))
        if not program.ok:
            continue
        plan = plans["preview"]
        code, layer, architecture = artifacts.registered(plan)
        run(lambda: artifacts.check(code, layer, architecture))
        if architecture not in reproduced:
            reproduced.add(architecture)
            other = find_python(PYTHON_VERSION) or sys.executable
            run(lambda: artifacts.reproducibility(PROJECT_ROOT, layer, architecture, other))
        run(lambda: limits.check(plan))
        run(lambda: site.check(plan, PROJECT_ROOT / "site"))
        run(lambda: policy_pack.check(PROJECT_ROOT / "policy", [(f"{stage}", plan),
                                                                (f"{stage} first preview", plans["first"])]))
    print("\n=== stage-independent ===")
    run(lambda: tools.typecheck(PROJECT_ROOT))
    run(lambda: tools.lint_workflows(PROJECT_ROOT))
    run(lambda: lambda_python.check(PROJECT_ROOT, BUILD_DIR))
    failed = [r for r in results if not r.ok]
    print(f"\nrehearsal: {len(results) - len(failed)} passed, {len(failed)} failed"
          + (f" ({sum(len(r.problems) for r in failed)} problems)" if failed else ""))
    return 1 if failed else 0


def _program(stage: str, plans: dict[str, OfflinePlan]) -> Result:
    """The program as `pulumi up` runs it: the real layer built (build_layer=True) under the mocks, then once more
    answered as a first preview (unknown ids) for the policy pack."""
    result = Result(f"program: {stage} under Pulumi's mocks with the real layer build")
    try:
        plans["preview"] = run_offline(stage, build_layer=True)
        plans["first"] = run_offline(stage, unknown_ids=True)
    except pulumi.RunError as error:
        result.problems.append(str(error))
    except Exception as error:  # the program crashed: say where, as `pulumi up` would
        result.problems.append(f"{type(error).__name__}: {error}")
    else:
        result.figures.append(f"{len(plans['preview'].resources)} resources")
    return result


def _print(result: Result) -> None:
    print(f"{'ok  ' if result.ok else 'FAIL'}  {result.check}")
    for problem in result.problems:
        print(f"        problem: {problem}")
    for figure in result.figures:
        print(f"        {figure}")


if __name__ == "__main__":
    sys.exit(main())
