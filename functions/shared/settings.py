"""What a function reads from its environment: the names infra sets from the manifest (never secret values).

Handler modules are the edge where configuration enters; they call these helpers, which fail with a message naming
the missing variable instead of a bare KeyError deep inside a request.
"""

from __future__ import annotations

import os

from functions.manifest import bucket_env, function_env, secret_env, table_env


class MissingSetting(RuntimeError):
    """A variable the function manifest promises is not set: a deployment bug, not a user error."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set; the function manifest declares it and "
                             "infra (or the local runtime) must set it")
    return value


def optional(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, "").strip() or default


def table_name(logical_name: str) -> str:
    return required(table_env(logical_name))


def bucket_name(logical_name: str) -> str:
    return required(bucket_env(logical_name))


def parameter_name(secret: str) -> str:
    return required(secret_env(secret))


def function_name(name: str) -> str:
    return required(function_env(name))
