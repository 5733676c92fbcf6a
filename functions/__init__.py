"""Lambda function code. Never imports pulumi; `functions/shared/` is packaged with every function."""

VERSION = "2.0.0"  # the API version GET /health reports (the seed plan's 2.0.0: the serverless rewrite)
