"""The migration toolkit: streams legacy MongoDB `users`/`images` and media files into DynamoDB and S3.

Uses pymongo and boto3 only (never pulumi); table shapes come from `functions.shared.tables`.
"""
