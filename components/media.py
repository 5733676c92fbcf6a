"""The media bucket: audio uploads, generated images and thumbnails, private and versioned.

Browsers PUT audio straight to S3 through presigned URLs, so CORS allows PUT from the stage's site origins only.
Lifecycle keeps cost bounded: incomplete multipart uploads aborted, noncurrent versions expired, and audio that
never became an image (abandoned uploads) expired. Event notifications are added by the image pipeline.
"""

from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.config import StageConfig
from components.private_bucket import PrivateBucket
from functions.site_spec import MEDIA_CORS

NONCURRENT_VERSION_DAYS = 30
# A rule for the whole bucket still names exactly one filter (the provider warns, and will refuse, an empty one).
EVERY_OBJECT: aws.s3.BucketLifecycleConfigurationRuleFilterArgsDict = {"prefix": ""}
ABANDONED_AUDIO_DAYS = 7  # an uploaded clip is transcribed within minutes; a week later nobody needs it


class MediaStorage(pulumi.ComponentResource):
    def __init__(self, name: str, config: StageConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:media:MediaStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        stateful = pulumi.ResourceOptions(protect=config.protectResources, retain_on_delete=config.protectResources)
        self.bucket = PrivateBucket(name, versioned=True, force_destroy=not config.protectResources,
                                    stateful=stateful, opts=child)
        self._resource_name = name
        self.bucket.attach_policy()
        aws.s3.BucketLifecycleConfiguration(
            name, bucket=self.bucket.bucket.id,
            rules=[
                {"id": "abort-incomplete-multipart", "status": "Enabled", "filter": EVERY_OBJECT,
                 "abort_incomplete_multipart_upload": {"days_after_initiation": 1}},
                {"id": "expire-noncurrent-versions", "status": "Enabled", "filter": EVERY_OBJECT,
                 "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_VERSION_DAYS}},
                {"id": "expire-abandoned-audio", "status": "Enabled", "filter": {"prefix": "audio/"},
                 "expiration": {"days": ABANDONED_AUDIO_DAYS}},
            ],
            opts=child)
        self.arn = self.bucket.arn
        self.name = self.bucket.name
        self.register_outputs({"name": self.name, "arn": self.arn})

    def allow_browser_uploads(self, site_origins: pulumi.Input[Sequence[str]]) -> None:
        """CORS for presigned PUTs from the site's origins only (known once the distribution exists)."""
        aws.s3.BucketCorsConfiguration(
            self._resource_name, bucket=self.bucket.bucket.id,
            cors_rules=[{"allowed_methods": list(MEDIA_CORS.allowed_methods), "allowed_origins": site_origins,
                         "allowed_headers": list(MEDIA_CORS.allowed_headers),
                         "expose_headers": list(MEDIA_CORS.expose_headers),
                         "max_age_seconds": MEDIA_CORS.max_age_seconds}],
            opts=pulumi.ResourceOptions(parent=self))
