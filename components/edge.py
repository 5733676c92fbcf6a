"""The edge: one CloudFront distribution per stage serving the static site and, under `/api/*`, the HTTP API.

The site bucket is private and read only by this distribution through Origin Access Control. HTTPS only
(redirect), HTTP/2 and HTTP/3, a security-headers policy (HSTS included) on every answer. TLS 1.2+ toward
viewers is enforced only with a custom domain (`mumble:domainName`: its ACM certificate and `TLSv1.2_2021`):
on the default `*.cloudfront.net` certificate CloudFront always uses its own `TLSv1` policy and ignores any
other setting, so none is claimed there; modern browsers negotiate TLS 1.2/1.3 anyway. Toward the origins it is
TLS 1.2 only. The single-page-app
fallback is a viewer-request function on the site behaviour (see edge_code/spa_rewrite.js for why not custom
error responses). The web client's build (site/dist, `make site`) is uploaded with content types and a cache
policy that needs no invalidation (functions/site_spec.py: hashed assets immutable for a year, pages revalidated),
with the stage's `config.json` (no-cache) beside it; its CSP comes from the same spec as local mode's.

With a cutover router (stages with `legacyOrigin`), the router replaces the SPA function on every behaviour, the
visitor-cookie function runs at viewer-response, and the `legacy` origin is added. The legacy cohort must get
exactly what it got before DNS moved, through the same behaviours as the new site: so the site behaviour then
allows every method and forwards every cookie, query string and header (but Host), and its cache policy caches
only what the origin's own Cache-Control asks for (default TTL 0) with the cohort header, cookies and query strings
in the key. The new site keeps its hit ratio: its objects carry their Cache-Control, and the router strips query
strings and cookies (but its own, which the key leaves out) from new-cohort page requests, so their key is what
it was. `/api/*` is never cached, for either cohort.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.config import NAMESPACE, StageConfig
from components.cutover import CutoverRouter
from components.edge_functions import COHORT_HEADER, ROUTER_COOKIES, edge_function_code
from components.private_bucket import PrivateBucket
from functions.site_spec import (BUILD_DIR, CONFIG_CACHE_CONTROL, CONFIG_FILE, FRAME_OPTIONS, HSTS_MAX_AGE_S,
                                 REFERRER_POLICY, aws_origins, build_problem, cache_control_for,
                                 content_security_policy, content_type_for)

# AWS managed policies (stable, documented ids).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # origin request policy: everything but Host
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
READ_METHODS = ["GET", "HEAD", "OPTIONS"]
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"  # the hosted zone of every *.cloudfront.net alias target

def site_files(site_dir: Path) -> list[tuple[str, Path]]:
    """(S3 key, file) for every file of the site directory, sorted; dot files left out."""
    return sorted((path.relative_to(site_dir).as_posix(), path) for path in site_dir.rglob("*")
                  if path.is_file() and not any(part.startswith(".") for part in path.relative_to(site_dir).parts))


class Edge(pulumi.ComponentResource):
    """`distribution`, `site_bucket`, `url` (https://..., the site's origin), `domain`."""

    def __init__(self, name: str, config: StageConfig, api_domain: pulumi.Input[str], project_root: Path,
                 client_config: pulumi.Input[Mapping[str, str]], router: CutoverRouter | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mumble:edge:Edge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.site_bucket = PrivateBucket(f"{name}-site", versioned=False, force_destroy=True,
                                         stateful=pulumi.ResourceOptions(), opts=child)
        oac = aws.cloudfront.OriginAccessControl(
            name, name=f"mumble-{config.stage}-site", origin_access_control_origin_type="s3",
            signing_behavior="always", signing_protocol="sigv4", opts=child)
        headers = aws.cloudfront.ResponseHeadersPolicy(
            name, name=f"mumble-{config.stage}-security-headers",
            security_headers_config={
                "strict_transport_security": {"access_control_max_age_sec": HSTS_MAX_AGE_S, "include_subdomains": True,
                                              "preload": True, "override": True},
                "content_type_options": {"override": True},
                "frame_options": {"frame_option": FRAME_OPTIONS, "override": True},
                "referrer_policy": {"referrer_policy": REFERRER_POLICY, "override": True},
                "xss_protection": {"protection": True, "mode_block": True, "override": True},
                "content_security_policy": {"content_security_policy": content_security_policy(aws_origins(config.region)),
                                            "override": True},
            },
            opts=child)
        if router is None:
            spa = aws.cloudfront.Function(
                f"{name}-viewer-request", name=f"mumble-{config.stage}-viewer-request", runtime="cloudfront-js-2.0",
                code=edge_function_code("spa-rewrite"), publish=True, comment="site behaviour: SPA fallback",
                opts=child)
            site_functions: list[aws.cloudfront.DistributionDefaultCacheBehaviorFunctionAssociationArgsDict] = [
                {"event_type": "viewer-request", "function_arn": spa.arn}]
            api_functions: list[aws.cloudfront.DistributionOrderedCacheBehaviorFunctionAssociationArgsDict] = []
            site_cache_policy: pulumi.Input[str] = CACHING_OPTIMIZED
            site_methods, site_request_policy = READ_METHODS, None
        else:
            site_functions = [
                {"event_type": "viewer-request", "function_arn": router.viewer_request.arn},
                {"event_type": "viewer-response", "function_arn": router.viewer_response.arn}]
            api_functions = [
                {"event_type": "viewer-request", "function_arn": router.viewer_request.arn},
                {"event_type": "viewer-response", "function_arn": router.viewer_response.arn}]
            site_cache_policy = aws.cloudfront.CachePolicy(
                f"{name}-site", name=f"mumble-{config.stage}-site-by-cohort", default_ttl=0, max_ttl=31536000,
                min_ttl=0, comment="cached only as the origin says; keyed by cohort, cookies and query strings",
                parameters_in_cache_key_and_forwarded_to_origin={
                    "enable_accept_encoding_brotli": True, "enable_accept_encoding_gzip": True,
                    "cookies_config": {"cookie_behavior": "allExcept",
                                       "cookies": {"items": list(ROUTER_COOKIES)}},
                    "query_strings_config": {"query_string_behavior": "all"},
                    "headers_config": {"header_behavior": "whitelist", "headers": {"items": [COHORT_HEADER]}}},
                opts=child).id
            site_methods, site_request_policy = ALL_METHODS, ALL_VIEWER_EXCEPT_HOST

        certificate_arn, aliases = self._certificate(name, config) if config.domainName else (None, [])
        origins: list[aws.cloudfront.DistributionOriginArgsDict] = [
            {"origin_id": "site", "domain_name": self.site_bucket.regional_domain_name,
             "origin_access_control_id": oac.id},
            {"origin_id": "api", "domain_name": api_domain, "custom_origin_config": _https_origin()},
        ]
        if router:
            origins.append({"origin_id": router.legacy_origin_id, "domain_name": router.legacy_domain,
                            "custom_origin_config": _https_origin()})
        self.distribution = aws.cloudfront.Distribution(
            name, enabled=True, comment=f"mumble {config.stage}", is_ipv6_enabled=True, http_version="http2and3",
            price_class=config.priceClass, default_root_object="index.html", aliases=aliases, origins=origins,
            default_cache_behavior={
                "target_origin_id": "site", "viewer_protocol_policy": "redirect-to-https", "compress": True,
                "allowed_methods": site_methods, "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": site_cache_policy, "origin_request_policy_id": site_request_policy,
                "response_headers_policy_id": headers.id, "function_associations": site_functions,
            },
            ordered_cache_behaviors=[{
                "path_pattern": "/api/*", "target_origin_id": "api", "viewer_protocol_policy": "redirect-to-https",
                "compress": True,
                "allowed_methods": ALL_METHODS,
                "cached_methods": ["GET", "HEAD"], "cache_policy_id": CACHING_DISABLED,
                "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST, "response_headers_policy_id": headers.id,
                "function_associations": api_functions,
            }],
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=viewer_certificate(certificate_arn),
            opts=child)
        self.site_bucket.attach_policy([pulumi.Output.all(self.site_bucket.arn, self.distribution.arn).apply(
            lambda arns: {"Sid": "CloudFrontReadsThroughOac", "Effect": "Allow",
                          "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                          "Resource": f"{arns[0]}/*", "Condition": {"StringEquals": {"AWS:SourceArn": arns[1]}}})])
        self._upload_site(name, config, project_root, client_config)
        if config.domainName:
            for record_type in ("A", "AAAA"):
                aws.route53.Record(
                    f"{name}-alias-{record_type.lower()}", zone_id=config.hostedZoneId, name=config.domainName,
                    type=record_type, aliases=[{"name": self.distribution.domain_name,
                                                "zone_id": CLOUDFRONT_ZONE_ID, "evaluate_target_health": False}],
                    opts=child)
        self.domain = pulumi.Output.from_input(config.domainName) if config.domainName \
            else self.distribution.domain_name
        self.url = self.domain.apply(lambda domain: f"https://{domain}")
        self.register_outputs({"url": self.url, "distributionId": self.distribution.id})

    def _certificate(self, name: str, config: StageConfig) -> tuple[pulumi.Output[str], list[str]]:
        """An ACM certificate in us-east-1 (where CloudFront reads them), validated by DNS in the stage's zone."""
        us_east_1 = aws.Provider(f"{name}-us-east-1", region="us-east-1", opts=pulumi.ResourceOptions(parent=self))
        in_us_east_1 = pulumi.ResourceOptions(parent=self, provider=us_east_1)
        certificate = aws.acm.Certificate(f"{name}-certificate", domain_name=config.domainName,
                                          validation_method="DNS", opts=in_us_east_1)
        option = certificate.domain_validation_options[0]
        record = aws.route53.Record(
            f"{name}-certificate-validation", zone_id=config.hostedZoneId, name=option.resource_record_name,
            type=option.resource_record_type, records=[option.resource_record_value], ttl=60, allow_overwrite=True,
            opts=pulumi.ResourceOptions(parent=self))
        validation = aws.acm.CertificateValidation(
            f"{name}-certificate", certificate_arn=certificate.arn, validation_record_fqdns=[record.fqdn],
            opts=in_us_east_1)
        return validation.certificate_arn, [config.domainName]

    def _upload_site(self, name: str, config: StageConfig, project_root: Path,
                     client_config: pulumi.Input[Mapping[str, str]]) -> None:
        """The web client's build (`<siteDir>/dist`, refused when missing or stale) and the stage's config.json."""
        site_root = Path(config.siteDir)
        site_root = site_root if site_root.is_absolute() else project_root / site_root
        if not site_root.is_dir():
            raise pulumi.RunError(f"{NAMESPACE}:siteDir: {site_root} is not a directory (the web client)")
        problem = build_problem(site_root)
        if problem:
            raise pulumi.RunError(f"{NAMESPACE}:siteDir: {problem}; run `make site` (npm ci + the Vite build) and "
                                  "deploy again")
        for key, path in site_files(site_root / BUILD_DIR):
            aws.s3.BucketObjectv2(
                f"{name}-file-{key}", bucket=self.site_bucket.bucket.id, key=key, source=pulumi.FileAsset(str(path)),
                content_type=content_type_for(key), cache_control=cache_control_for(key),
                opts=pulumi.ResourceOptions(parent=self))
        aws.s3.BucketObjectv2(
            f"{name}-file-{CONFIG_FILE}", bucket=self.site_bucket.bucket.id, key=CONFIG_FILE,
            content=pulumi.Output.from_input(client_config).apply(lambda value: json.dumps(dict(value), indent=1)),
            content_type="application/json; charset=utf-8", cache_control=CONFIG_CACHE_CONTROL,
            opts=pulumi.ResourceOptions(parent=self))


def viewer_certificate(certificate_arn: pulumi.Input[str] | None) -> aws.cloudfront.DistributionViewerCertificateArgsDict:
    """TLS 1.2+ with the custom domain's certificate; the default certificate takes no protocol setting (CloudFront
    would ignore it and use TLSv1), so none is written that would only look like a guarantee."""
    if certificate_arn is not None:
        return {"acm_certificate_arn": certificate_arn, "ssl_support_method": "sni-only",
                "minimum_protocol_version": "TLSv1.2_2021"}
    return {"cloudfront_default_certificate": True}


def _https_origin() -> aws.cloudfront.DistributionOriginCustomOriginConfigArgsDict:
    origin_ssl_protocols: Sequence[str] = ["TLSv1.2"]
    return {"http_port": 80, "https_port": 443, "origin_protocol_policy": "https-only",
            "origin_ssl_protocols": origin_ssl_protocols}
