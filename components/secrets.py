"""OpenAI and OpenWeather keys (and, during a cutover, the legacy MongoDB URI): Pulumi secret config -> SSM
SecureString parameters.

Functions get only the parameter *names* (environment) and `ssm:GetParameter` on those ARNs (their IAM policy);
the values never appear in a Lambda environment or a plain output. A stage without a key (dev) gets a parameter
holding `unset`, so functions fail a job with a clear reason and an operator can fill it in with
`aws ssm put-parameter --overwrite` (Pulumi ignores later changes to an unset value).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import LEGACY_SECRETS, NAMESPACE, SECRET_KEYS, StageConfig
from functions.manifest import SECRET_PLACEHOLDER, parameter_path


class Secrets(pulumi.ComponentResource):
    """`names[key]` and `arns[key]` of each SecureString parameter."""

    def __init__(self, name: str, config: StageConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:secrets:Secrets", name, None, opts)
        settings = pulumi.Config(NAMESPACE)
        self.parameters: dict[str, aws.ssm.Parameter] = {}
        for key in SECRET_KEYS:
            if key in LEGACY_SECRETS and not config.legacyOrigin:
                continue  # the legacy database's URI exists only while there is a legacy stack
            value = settings.get_secret(key)
            self.parameters[key] = aws.ssm.Parameter(
                f"{name}-{key}", name=parameter_path(config.stage, key), type="SecureString",
                value=value if value is not None else pulumi.Output.secret(SECRET_PLACEHOLDER),
                description=f"{key} of the {config.stage} stage (from Pulumi secret config)",
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=[] if value is not None else ["value"]))
        self.names = {key: parameter.name for key, parameter in self.parameters.items()}
        self.arns = {key: parameter.arn for key, parameter in self.parameters.items()}
        self.register_outputs({"names": self.names})
