"""OpenAI transcription and image generation, bounded by the time the function has left.

The SDK (imported here, lazily, and only by the functions that call OpenAI: its import costs ~0.5 s of cold start)
retries 429, 5xx, timeouts and connection errors with backoff. Each call gets a per-attempt timeout computed from
the invocation's remaining time so that all attempts plus backoff end before the function does: a slow or failing
provider ends the job `failed` with a reason instead of a killed, stuck invocation.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

RETRIES = 2
RESERVE_S = 3.0  # left for recording the outcome after the last attempt
BACKOFF_ALLOWANCE_S = 2.5  # the SDK's backoff between attempts (0.5 s, 1 s, with jitter)
MIN_ATTEMPT_S = 1.0


class ProviderFailed(RuntimeError):
    """OpenAI could not do it; the message is the job's failure reason."""


@dataclass
class Deadline:
    """Seconds left in this invocation, from the Lambda context."""

    ends_at: float

    @classmethod
    def from_context(cls, context: Any) -> "Deadline":
        return cls(time.monotonic() + context.get_remaining_time_in_millis() / 1000)

    def remaining(self) -> float:
        return self.ends_at - time.monotonic()


def client(api_key: str) -> Any:
    from openai import OpenAI  # noqa: PLC0415 - deliberately lazy (cold start)

    return OpenAI(api_key=api_key, max_retries=0)


def _bounded(openai_client: Any, deadline: Deadline, cap_s: float, what: str) -> Any:
    budget = deadline.remaining() - RESERVE_S - BACKOFF_ALLOWANCE_S
    per_attempt = min(cap_s, budget / (RETRIES + 1))
    if per_attempt < MIN_ATTEMPT_S:
        raise ProviderFailed(f"{what}: not enough time left in the invocation ({deadline.remaining():.1f} s)")
    return openai_client.with_options(timeout=per_attempt, max_retries=RETRIES)


def _failure(what: str, error: Exception) -> ProviderFailed:
    import openai  # noqa: PLC0415

    if isinstance(error, openai.RateLimitError):
        reason = "rate limited (429)"
    elif isinstance(error, openai.APITimeoutError):
        reason = "timed out"
    elif isinstance(error, openai.APIStatusError):
        reason = f"answered {error.status_code}"
    elif isinstance(error, openai.APIConnectionError):
        reason = "could not be reached"
    else:
        reason = f"failed ({type(error).__name__})"
    return ProviderFailed(f"{what}: OpenAI {reason} after {RETRIES + 1} attempts")


def transcribe(openai_client: Any, deadline: Deadline, model: str, audio: bytes, file_name: str,
               content_type: str) -> str:
    import openai  # noqa: PLC0415

    bounded = _bounded(openai_client, deadline, 60.0, "transcription")
    try:
        result = bounded.audio.transcriptions.create(model=model, file=(file_name, audio, content_type))
    except openai.OpenAIError as error:
        raise _failure("transcription", error) from None
    text = (getattr(result, "text", "") or "").strip()
    if not text:
        raise ProviderFailed("transcription: the audio contains no speech")
    return text


def generate_image(openai_client: Any, deadline: Deadline, model: str, prompt: str,
                   size: str = "1024x1024") -> bytes:
    """PNG bytes. Current image models answer base64 (`b64_json`); DALL·E models must be asked for it."""
    import openai  # noqa: PLC0415

    bounded = _bounded(openai_client, deadline, 150.0, "image generation")
    extra = {"response_format": "b64_json"} if model.startswith("dall-e") else {}
    try:
        result = bounded.images.generate(model=model, prompt=prompt, size=size, n=1, **extra)
    except openai.OpenAIError as error:
        raise _failure("image generation", error) from None
    data = result.data[0].b64_json if result.data else None
    if not data:
        raise ProviderFailed("image generation: OpenAI answered without image data")
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        raise ProviderFailed("image generation: OpenAI answered with invalid base64") from None
