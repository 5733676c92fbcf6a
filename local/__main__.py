"""`python -m local up` (what `make dev` runs): the whole app on this machine until Ctrl-C.

Prints one URL where the web client, `/api/*`, `/config.json` and Cognito share an origin (as on CloudFront), a
demo user and a migrated legacy user to sign in as (the sample legacy database loaded by `migration.run`; the
legacy user's first sign-in runs the user-migration trigger), the API and WebSocket URLs, an id token and example
requests. Without API keys the
local OpenAI and OpenWeather stand-ins answer; with `--openai-key`/`--openweather-key` (or OPENAI_API_KEY /
OPENWEATHER_API_KEY) the functions call the real services instead. With `--legacy-mongo-uri` (a MongoDB URI naming
its database) the reverseSync function follows the users and images tables' streams into that database, as it
does on a stage with a legacy origin during the cutover.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading

from local.app import DEMO_EMAIL, DEMO_PASSWORD, LocalApp, LocalAppOptions
from local.legacy_sample import migrate_sample
from local.site_build import SiteBuildError


def _redacted(uri: str) -> str:
    """The URI without its credentials, for printing."""
    return re.sub(r"//[^@/]*@", "//***@", uri)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start everything and serve until Ctrl-C")
    up.add_argument("--openai-key", default=os.environ.get("OPENAI_API_KEY"))
    up.add_argument("--openweather-key", default=os.environ.get("OPENWEATHER_API_KEY"))
    up.add_argument("--legacy-mongo-uri", default=os.environ.get("LEGACY_MONGO_URI"),
                    help="the legacy MongoDB (with its database, e.g. mongodb://127.0.0.1:27017/mumble): turns on "
                         "the reverse sync of the new stack's writes")
    up.add_argument("--no-legacy-sample", action="store_true",
                    help="skip seeding and migrating the sample legacy database (its users sign in with their old "
                         "passwords)")
    args = parser.parse_args(argv)
    if args.legacy_mongo_uri and not args.legacy_mongo_uri.startswith(("mongodb://", "mongodb+srv://")):
        parser.error(f"--legacy-mongo-uri must be a mongodb:// or mongodb+srv:// URI (got {args.legacy_mongo_uri!r})")

    options = LocalAppOptions(
        openai_api_key=args.openai_key, openweather_api_key=args.openweather_key,
        openai_base_url="https://api.openai.com/v1" if args.openai_key else None,
        openweather_base_url="https://api.openweathermap.org" if args.openweather_key else None,
        legacy_mongo_uri=args.legacy_mongo_uri, serve_site=True)
    try:
        app = LocalApp(options).start()
    except SiteBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        tokens = app.user(DEMO_EMAIL, DEMO_PASSWORD)
        legacy = None if args.no_legacy_sample else migrate_sample(app.aws, app.buckets["media"])
        providers = "real OpenAI/OpenWeather" if args.openai_key else "local OpenAI/OpenWeather stand-ins"
        assert app.site is not None
        legacy_line = (f"{legacy.email} / {legacy.password}   (legacy: first sign-in migrates them; "
                       f"{legacy.images} images)" if legacy else "off (--no-legacy-sample)")
        print(f"""mumble local app is up ({providers})

  open       {app.site.url}/
  sign in    {DEMO_EMAIL} / {DEMO_PASSWORD}
  legacy     {legacy_line}

  API        {app.api_url}            (GET /health is public; everything else needs the token)
  WebSocket  {app.websocket.url}/?token=<id token>
  AWS        {app.aws.endpoint_url}   (moto; tables/buckets named mumble-{app.aws.stage}-*)
  logs       {app.log_dir}/functions/<function>.log
  reverse    {"reverseSync -> " + _redacted(args.legacy_mongo_uri) if args.legacy_mongo_uri else "off (--legacy-mongo-uri)"}

export TOKEN={tokens['IdToken']}
curl -s {app.api_url}/users/me -H "Authorization: Bearer $TOKEN"
curl -s -X POST {app.api_url}/generate -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
     -d '{{"text": "a lighthouse in a storm", "location": {{"lat": 48.85, "lon": 2.35}}}}'

Ctrl-C to stop.""", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        app.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
