"""The image prompt: what the user said, in the weather where they are, in the style they chose."""

from __future__ import annotations

from typing import Any

MAX_PROMPT = 4000
STYLE_PHRASES = {
    "photo": "a realistic photograph",
    "illustration": "a colourful digital illustration",
    "watercolor": "a soft watercolour painting",
    "pixel-art": "detailed pixel art",
    "sketch": "a pencil sketch",
}


def build_prompt(transcript: str, weather: dict[str, Any] | None, style: str | None,
                 city: str | None = None) -> str:
    parts = [f"{STYLE_PHRASES.get(style or 'illustration', STYLE_PHRASES['illustration'])} of: {transcript.strip()}"]
    if weather:
        place = weather.get("city") or city
        scene = f"The scene has the current weather: {weather['description']}, {round(weather['temperature'])}°C"
        parts.append(scene + (f" in {place}." if place else "."))
    return " ".join(parts)[:MAX_PROMPT]
