"""One representative event per function of the manifest, shaped as Lambda delivers them, against a running
local app: the bench's cold starts, the deploy rehearsal's run under Python 3.12 and the tests all serve these."""

from __future__ import annotations

import time
from typing import Any

import requests
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from functions.manifest import FUNCTIONS, HttpRoute
from functions.shared.tokens import TokenVerifier
from local.app import LocalApp
from local.http_gateway import HttpGateway


def http_event(path: str, method: str, route: HttpRoute, claims: dict[str, Any] | None, body: Any = None,
               query: dict[str, Any] | None = None, params: dict[str, str] | None = None) -> dict[str, Any]:
    builder = EnvironBuilder(path=path, method=method, json=body, query_string=query)
    return HttpGateway.event(Request(builder.get_environ()), route, params or {}, claims)


def representative_events(app: LocalApp, tokens: dict[str, str], claims: dict[str, Any],
                          audio_key: str) -> dict[str, Any]:
    routes = {route.route_key: route for spec in FUNCTIONS for route in spec.http_routes}

    def route(key: str) -> HttpRoute:
        return routes[key]

    return {
        "health": http_event("/api/v1/health", "GET", route("GET /api/v1/health"), None),
        "audioUpload": http_event("/api/v1/audio/upload", "POST", route("POST /api/v1/audio/upload"), claims,
                                  {"contentType": "audio/webm", "size": 1000}),
        "speechToText": http_event("/api/v1/transcriptions", "POST", route("POST /api/v1/transcriptions"), claims,
                                   {"audioKey": audio_key}),
        "generateImage": http_event("/api/v1/jobs/none", "GET", route("GET /api/v1/jobs/{jobId}"), claims,
                                    params={"jobId": "none"}),
        "weatherData": http_event("/api/v1/weather", "GET", route("GET /api/v1/weather"), claims,
                                  query={"lat": 1, "lon": 2}),
        "imageGallery": http_event("/api/v1/images", "GET", route("GET /api/v1/images"), claims),
        "userProfile": http_event("/api/v1/users/me", "GET", route("GET /api/v1/users/me"), claims),
        "websocketAuthorizer": {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:0:x/live/$connect",
                                "queryStringParameters": {"token": tokens["IdToken"]}},
        "websocket": {"requestContext": {"routeKey": "$default", "connectionId": "bench="}, "body": "{}"},
        "generateImageWorker": {"jobId": "no-such-job"},
        "imageProcessor": {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                        "s3": {"bucket": {"name": app.buckets["media"]},
                                               "object": {"key": "images/x/none.png", "size": 1}}}]},
        "maintenance": {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
        "userMigration": {"triggerSource": "UserMigration_ForgotPassword", "userName": "nobody@example.com",
                          "request": {}, "response": {}},
        "reverseSync": {"Records": [{  # a profile the new stack wrote, upserted into the legacy MongoDB
            "eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "eventSourceARN": f"arn:aws:dynamodb:us-east-1:000000000000:table/{app.tables['users']}/stream/bench",
            "dynamodb": {"ApproximateCreationDateTime": int(time.time()), "SequenceNumber": "1",
                         "StreamViewType": "NEW_AND_OLD_IMAGES", "Keys": {"userId": {"S": "64b0c0ffee0000000000beef"}},
                         "NewImage": {"userId": {"S": "64b0c0ffee0000000000beef"}, "email": {"S": "b@example.com"},
                                      "origin": {"S": "aws"}, "sourceVersion": {"N": str(int(time.time() * 1000))},
                                      "updatedAt": {"S": "2026-11-23T00:00:00.000Z"}}}}]},
    }


# Events whose correct answer is an exception: a Cognito trigger refuses by raising, and Cognito turns it into
# its own error ("User does not exist" for an unknown user's forgotten password).
EXPECTED_ERRORS = {"userMigration": "MigrationRefused"}


def prepared_events(app: LocalApp, email: str) -> tuple[dict[str, str], dict[str, Any]]:
    """A signed-in user with an uploaded clip, and the events that use them: (tokens, events by function)."""
    tokens = app.user(email)
    verifier = TokenVerifier(app.user_pool.issuer, app.user_pool.client_id, app.user_pool.jwks_url)
    claims = verifier.verify(tokens["IdToken"])
    audio = b"SPEECH:a benchmark"
    upload = requests.post(f"{app.api_url}/audio/upload", json={"contentType": "audio/webm", "size": len(audio)},
                           headers={"Authorization": f"Bearer {tokens['IdToken']}"}, timeout=30).json()
    requests.put(upload["upload"]["url"], data=audio, headers=upload["upload"]["headers"], timeout=30)
    return tokens, representative_events(app, tokens, claims, upload["audioKey"])
