"""OpenAI-compatible speech to text: ``POST /v1/audio/transcriptions``, ``GET /v1/models``."""
