"""The cutover router of a stage that configures `legacyOrigin`: a CloudFront KeyValueStore holding `weight` and
`salt`, the viewer-request function that routes by them, and the viewer-response function that keeps the
visitor-id cookie (edge_code/cutover_router.js, visitor_cookie.js).

Pulumi creates the two keys with the stage's initial values and then ignores changes to them: from then on the
cutover CLI owns the weight, so a later `pulumi up` never resets a cutover in progress.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.config import StageConfig
from components.edge_functions import LEGACY_ORIGIN_ID, edge_function_code
from functions.shared.cutover_store import KVS_SALT_KEY, KVS_WEIGHT_KEY


class CutoverRouter(pulumi.ComponentResource):
    """`store` (the KeyValueStore), `viewer_request` / `viewer_response` (functions), and the legacy origin's id
    and domain (`legacy_origin_id`, `legacy_domain`)."""

    def __init__(self, name: str, config: StageConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:cutover:CutoverRouter", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.store = aws.cloudfront.KeyValueStore(
            name, name=f"mumble-{config.stage}-cutover",
            comment="cutover split: weight (0-100 % of subjects on the new stack) and salt; owned by the cutover CLI",
            opts=child)
        keys = [aws.cloudfront.KeyvaluestoreKey(
            f"{name}-{key}", key_value_store_arn=self.store.arn, key=key, value=value,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]))
            for key, value in ((KVS_WEIGHT_KEY, str(config.cutoverInitialWeight)), (KVS_SALT_KEY, config.salt))]
        self.viewer_request = aws.cloudfront.Function(
            f"{name}-router", name=f"mumble-{config.stage}-cutover-router", runtime="cloudfront-js-2.0",
            code=edge_function_code("cutover-router"), publish=True, key_value_store_associations=[self.store.arn],
            comment="viewer-request: sticky weighted split between the new stack and the legacy origin",
            opts=pulumi.ResourceOptions(parent=self, depends_on=keys))
        self.viewer_response = aws.cloudfront.Function(
            f"{name}-visitor", name=f"mumble-{config.stage}-visitor-cookie", runtime="cloudfront-js-2.0",
            code=edge_function_code("visitor-cookie"), publish=True,
            comment="viewer-response: the visitor-id cookie the router keeps a visitor's cohort by", opts=child)
        self.legacy_origin_id = LEGACY_ORIGIN_ID
        self.legacy_domain = config.legacyOrigin
        self.register_outputs({"keyValueStoreArn": self.store.arn})
