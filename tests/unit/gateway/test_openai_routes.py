"""OpenAI-compatible routes with a fake transcription client."""

from __future__ import annotations

from tests.unit.gateway.conftest import UnitGateway, wav


async def test_models_come_from_the_transcription_service(gw: UnitGateway) -> None:
    body = (await gw.client.get("/v1/models")).json()
    assert body == {
        "object": "list",
        "data": [{"id": "whisper-1", "object": "model", "created": 0, "owned_by": "earshot"}],
    }
    assert (await gw.client.get("/v1/models/whisper-1")).json()["id"] == "whisper-1"
    missing = await gw.client.get("/v1/models/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


async def test_a_clip_is_transcribed_over_grpc(gw: UnitGateway) -> None:
    reply = await gw.client.post(
        "/v1/audio/transcriptions",
        files={"file": ("clip.wav", wav(channels=1), "audio/wav")},
        data={"model": "whisper-1", "response_format": "text", "language": "en"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.text == "hello world\n"
    assert gw.transcription.requests[-1].language == "en"


async def test_errors_use_openai_shape(gw: UnitGateway) -> None:
    no_model = await gw.client.post("/v1/audio/transcriptions", files={"file": ("clip.wav", wav(channels=1))})
    assert no_model.status_code == 400 and no_model.json()["error"]["param"] == "model"
    unknown = await gw.client.post(
        "/v1/audio/transcriptions",
        files={"file": ("clip.wav", wav(channels=1))},
        data={"model": "no-such-model"},
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    not_multipart = await gw.client.post("/v1/audio/transcriptions", json={"model": "whisper-1"})
    assert not_multipart.status_code == 400 and not_multipart.json()["error"]["param"] == "file"
