"""Code and pure-data specs packaged with every Lambda function (and read by infra, local mode and migration)."""
