"""The Pulumi CLI's own config rules, applied to `Pulumi.yaml` and the stack file as committed (no placeholders):
the CLI refuses to start the program when a key the project declares without a default is missing from the
stack ("Stack 'dev' is missing configuration value ..."), when a value does not have the declared type, or when a
key declared `secret: true` is set in plain text. The program's own rules (components/config.py) then apply to
the values; its secrets, set with `pulumi config set --secret`, must be `secure:` values in the stack file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.config import NAMESPACE, SECRET_KEYS
from rehearsal.result import Result

TYPE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
}


def check(project_root: Path, stage: str) -> Result:
    result = Result("config: the CLI's rules on Pulumi.yaml and the stack file")
    project = yaml.safe_load((project_root / "Pulumi.yaml").read_text()) or {}
    stack_path = project_root / f"Pulumi.{stage}.yaml"
    if not stack_path.exists():
        result.problems.append(f"{stack_path.name} does not exist: `pulumi stack init {stage}` and commit it")
        return result
    values: dict[str, Any] = (yaml.safe_load(stack_path.read_text()) or {}).get("config") or {}
    result.problems += problems(project.get("name", ""), project.get("config") or {}, values, stack_path.name)
    result.figures.append(f"{len(values)} keys set in {stack_path.name}, "
                          f"{len(project.get('config') or {})} declared in Pulumi.yaml")
    unset = [key for key in SECRET_KEYS if f"{NAMESPACE}:{key}" not in values]
    if unset:
        result.figures.append(f"secrets not in {stack_path.name}: {', '.join(unset)} - set them with "
                              f"`pulumi config set --secret KEY ... -s {stage}` where the stage needs them "
                              "(the program refuses staging and prod without them); this rehearsal runs the "
                              "program with marked placeholders")
    return result


def problems(project_name: str, declared: dict[str, Any], values: dict[str, Any], stack_file: str) -> list[str]:
    found: list[str] = []
    for key, declaration in declared.items():
        full = f"{project_name}:{key}"
        declaration = declaration if isinstance(declaration, dict) else {"default": declaration}
        value = values.get(full, values.get(key))
        if value is None:
            if "default" not in declaration and "value" not in declaration:
                found.append(f"Pulumi.yaml declares {full} without a default and {stack_file} does not set it: "
                             "the CLI refuses the stack ('missing configuration value')")
            continue
        if declaration.get("secret") and not _is_secure(value):
            found.append(f"{full} is declared secret but {stack_file} holds it in plain text "
                         f"(pulumi config set --secret {key} ...)")
            continue
        expected = declaration.get("type")
        if expected in TYPE_CHECKS and not _is_secure(value) and not TYPE_CHECKS[expected](value):
            found.append(f"{full} in {stack_file} must be of type {expected} (got {value!r})")
    for key in SECRET_KEYS:
        value = values.get(f"{project_name}:{key}")
        if value is not None and not _is_secure(value):
            found.append(f"{project_name}:{key} is in plain text in {stack_file}: "
                         f"pulumi config set --secret {key} ... (it is stored encrypted as `secure:`)")
    return found


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str)
