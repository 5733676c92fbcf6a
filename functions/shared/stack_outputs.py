"""Names of the Pulumi stack outputs other tools read (`pulumi stack output --json`): the program exports these,
the migration and cutover CLIs look them up with `--stack STAGE`. Pure data."""

USERS_TABLE = "usersTableName"
IMAGES_TABLE = "imagesTableName"
MIGRATION_STATE_TABLE = "migrationStateTableName"
MEDIA_BUCKET = "mediaBucketName"
REGION = "region"
CUTOVER_STORE_ARN = "cutoverKeyValueStoreArn"  # only on stages with a legacy origin
