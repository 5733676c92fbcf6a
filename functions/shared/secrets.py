"""API keys from SSM Parameter Store (SecureString) through Powertools Parameters, cached for five minutes.

The environment holds only the parameter *name*; the value never sits in configuration or in the function's
environment. The deploy program creates each parameter with the placeholder below until someone sets the key.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from functions.manifest import SECRET_PLACEHOLDER
from functions.shared.settings import parameter_name

CACHE_SECONDS = 300


class SecretNotSet(RuntimeError):
    """The key was never set for this stage."""


def api_key(secret: str) -> str:
    name = parameter_name(secret)
    value = parameters.get_parameter(name, decrypt=True, max_age=CACHE_SECONDS)
    if not value or value.strip() == SECRET_PLACEHOLDER:
        raise SecretNotSet(f"the {secret} parameter {name} is not set; set it with "
                           f"`aws ssm put-parameter --overwrite --type SecureString --name {name} --value ...`")
    return value.strip()
