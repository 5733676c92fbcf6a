"""Local stand-ins for OpenAI and OpenWeather: real HTTP servers speaking those APIs' shapes, deterministic, and able
to be slow or fail on request. Local mode uses them as its offline providers when no API keys are set."""
