"""Lambda function code. Never imports pulumi; `functions/shared/` is packaged with every function."""
