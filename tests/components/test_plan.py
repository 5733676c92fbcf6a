"""`make plan STAGE=...`: the offline plan prints the tree, counts and policy verdicts, and exits by them."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def _plan(stage: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "components.plan", "--stage", stage], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_plan_of_prod_is_labelled_offline_and_passes_every_policy() -> None:
    result = _plan("prod")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("OFFLINE PLAN for stack 'prod'")
    assert "aws:dynamodb/table:Table data-users  [protected, retained]" in out
    assert "routeKey=GET /api/v1/health authorizationType=NONE" in out
    assert "  pass  no-iam-wildcards" in out and "FAIL" not in out
    assert "usersTableName = mumble-prod-users" in out


def test_plan_of_an_unconfigured_stage_exits_2_with_the_reason() -> None:
    result = _plan("qa")
    assert result.returncode == 2
    assert "aws:region: is required" in result.stderr and result.stdout == ""


def test_ci_workflow_tests_previews_and_deploys_with_the_pulumi_action() -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    jobs = workflow["jobs"]
    assert any(step.get("run") == "make test" for step in jobs["test"]["steps"])
    assert any(step.get("run") == 'make rehearse STAGE="dev staging prod"' for step in jobs["rehearse"]["steps"])
    pulumi_steps = {name: next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
                    for name, job in jobs.items() if name not in ("test", "rehearse")}
    assert {name: step["with"]["command"] for name, step in pulumi_steps.items()} == {
        "preview": "preview", "deploy-dev": "up", "deploy": "up"}
    assert all(step["with"]["policyPacks"] == "policy" for step in pulumi_steps.values())
    # The pack's interpreter exists before any job that uses it (the CLI does not make it).
    assert all(any("policy-venv" in step.get("run", "") for step in jobs[name]["steps"]) for name in pulumi_steps)
    assert jobs["deploy"]["environment"] == "${{ inputs.stage }}"  # prod waits for the environment's reviewers
