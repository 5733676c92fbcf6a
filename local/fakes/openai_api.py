"""A local OpenAI: `POST /v1/audio/transcriptions` and `POST /v1/images/generations` in the real API's shapes.

Deterministic: a transcription of audio whose bytes start with `SPEECH:` is the text after it (so tests say what
was "spoken"); other audio gets a fixed sentence naming its size and hash. The image is a real PNG with the prompt
drawn on it (Pillow), returned base64 as current image models do.
"""

from __future__ import annotations

import base64
import hashlib
import io
import textwrap
import time

from PIL import Image, ImageDraw
from werkzeug.wrappers import Request, Response

from local.fakes.faults import FaultyApp, error_response, json_response

TRANSCRIPTIONS = "/v1/audio/transcriptions"
IMAGES = "/v1/images/generations"
SPEECH_MARKER = b"SPEECH:"
MAX_SIDE = 1024


def transcript_of(audio: bytes) -> str:
    if audio.startswith(SPEECH_MARKER):
        return audio[len(SPEECH_MARKER):].decode("utf-8", "replace").strip()
    return f"A short recording of {len(audio)} bytes ({hashlib.sha256(audio).hexdigest()[:8]})."


def render_prompt(prompt: str, size: str) -> bytes:
    try:
        width, height = (min(MAX_SIDE, max(16, int(side))) for side in size.split("x"))
    except ValueError:
        width = height = MAX_SIDE
    digest = hashlib.sha256(prompt.encode()).digest()
    image = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    draw = ImageDraw.Draw(image)
    draw.multiline_text((16, 16), "\n".join(textwrap.wrap(prompt, 48)[:30]), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _authorized(request: Request) -> bool:
    return request.headers.get("Authorization", "").startswith("Bearer ") and \
        len(request.headers["Authorization"]) > len("Bearer ")


def route(request: Request) -> Response:
    if not _authorized(request):
        return error_response(401, "Incorrect API key provided", "invalid_api_key")
    if request.method == "POST" and request.path == TRANSCRIPTIONS:
        upload = request.files.get("file")
        if upload is None or not request.form.get("model"):
            return error_response(400, "file and model are required")
        return json_response({"text": transcript_of(upload.read())})
    if request.method == "POST" and request.path == IMAGES:
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip() or not body.get("model"):
            return error_response(400, "prompt and model are required")
        png = render_prompt(body["prompt"], str(body.get("size") or "1024x1024"))
        return json_response({"created": int(time.time()),
                              "data": [{"b64_json": base64.b64encode(png).decode(),
                                        "revised_prompt": body["prompt"]}]})
    return error_response(404, f"no route {request.method} {request.path}")


def make_app() -> FaultyApp:
    return FaultyApp(route)
