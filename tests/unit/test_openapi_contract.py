"""The OpenAPI document tells a client everything (issues 11 and 15): every route that takes a
body declares it (multipart or JSON, with its field names and types), every route's success
answer has a typed schema, and every status it can answer is documented with the error schema.
Walks the gateway's ``/openapi.json`` without starting it (tests/e2e/test_schemathesis.py checks
the same document against the running platform)."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
import pytest

from services.gateway.service import GatewayService
from services.gateway.shared.openapi import NO_BODY as NO_BODY_EXTRA
from services.gateway.shared.openapi import NO_ERRORS as NO_ERRORS_EXTRA
from services.gateway.shared.openapi import VALIDATION_AS_400

WRITES = {"post", "put", "patch"}
NO_BODY = next(iter(NO_BODY_EXTRA))
"""Extension a write route without any body sets (``openapi_extra=NO_BODY`` of shared/openapi.py)."""


@cache
def document() -> dict[str, Any]:
    return GatewayService().app.openapi()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in document()["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return dict(document()["components"]["schemas"][name])
    return schema


def _typed(schema: dict[str, Any]) -> bool:
    """A schema that names its fields (an object with properties, a typed array, a scalar,
    a binary string, or a union of those); ``{}`` and free-form objects are not typed."""
    schema = _resolve(schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return all(_typed(s) for s in schema[key] if s.get("type") != "null")
    kind = schema.get("type")
    if kind == "object":
        return bool(schema.get("properties"))
    if kind == "array":
        return _typed(schema.get("items", {}))
    return kind in {"string", "integer", "number", "boolean"}


def test_the_document_is_served() -> None:
    async def fetch() -> dict[str, Any]:
        app = GatewayService().app
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            answer = await c.get("/openapi.json")
            assert answer.status_code == 200
            return dict(answer.json())

    import asyncio

    served = asyncio.run(fetch())
    assert served["paths"].keys() == document()["paths"].keys()


@pytest.mark.parametrize(
    ("method", "path"), [(m, p) for m, p, _ in operations() if m in WRITES], ids=lambda v: str(v)
)
def test_every_write_route_declares_its_request_body(method: str, path: str) -> None:
    op = document()["paths"][path][method]
    if op.get(NO_BODY):
        assert "requestBody" not in op
        return
    body = op.get("requestBody")
    assert body, f"{method.upper()} {path} declares no requestBody"
    assert body.get("content"), f"{method.upper()} {path}: requestBody without content"
    for media_type, content in body["content"].items():
        schema = _resolve(content.get("schema", {}))
        assert _typed(schema), f"{method.upper()} {path}: {media_type} body has no typed fields"
        if media_type == "multipart/form-data":
            fields = schema["properties"]
            assert all("type" in f or "anyOf" in f or "$ref" in f or "enum" in f for f in fields.values()), (
                f"{method.upper()} {path}: a form field has no type"
            )


def test_upload_routes_declare_their_file_fields() -> None:
    uploads = {
        path: op["requestBody"]["content"]["multipart/form-data"]["schema"]
        for method, path, op in operations()
        if method == "post" and "multipart/form-data" in op.get("requestBody", {}).get("content", {})
    }
    # The seeds' upload routes, at least.
    assert {"/analyze-audio", "/api/audio/process", "/api/ml/classify", "/v1/audio/transcriptions"} <= set(
        uploads
    )
    for path, schema in uploads.items():
        schema = _resolve(schema)
        binary = [
            name
            for name, field in schema["properties"].items()
            if field.get("format") == "binary"
            or field.get("contentMediaType") == "application/octet-stream"
            or any(s.get("format") == "binary" for s in field.get("anyOf", []))
        ]
        assert binary, f"{path}: no file field"


def test_request_body_models_must_be_flat() -> None:
    from enum import Enum

    from pydantic import BaseModel

    from services.gateway.shared.openapi import request_body

    class Colour(Enum):
        RED = "red"

    class Nested(BaseModel):
        colour: Colour

    with pytest.raises(TypeError, match="flat"):
        request_body(form=Nested)
    with pytest.raises(TypeError, match="needs a form or a json model"):
        request_body()


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in operations()], ids=lambda v: str(v))
def test_every_route_has_a_typed_response(method: str, path: str) -> None:
    responses = document()["paths"][path][method]["responses"]
    success = sorted(code for code in responses if code.startswith(("2", "3")))
    assert success, f"{method.upper()} {path} declares no success response"
    answer = responses[success[0]]
    content = answer.get("content")
    if success[0] in {"204", "301", "302", "303", "307", "308"} and not content:
        return
    assert content, f"{method.upper()} {path}: {success[0]} has no content"
    for media_type, item in content.items():
        schema = item.get("schema", {})
        if not (media_type == "application/json" or media_type.endswith("+json")):
            continue  # a file, a document or plain text: the media type is the contract
        assert _typed(schema), f"{method.upper()} {path}: {media_type} answer is not a typed model"


def test_the_description_documents_the_live_protocols() -> None:
    text = document()["info"]["description"]
    for needle in (
        "/api/audio/stream/{session_id}/ws",
        "/socket.io/",
        "connect",
        "audio_chunk",
        "processed_audio",
        "metrics_update",
        "disconnect",
        "EARSHOT_API_KEYS",
    ):
        assert needle in text, needle


ERROR_SCHEMAS = {"#/components/schemas/ErrorBody", "#/components/schemas/OpenAIErrorBody"}
"""The error answers a client can parse: Earshot's, and OpenAI's shape on the ``/v1`` routes."""


def _error_refs(answer: dict[str, Any]) -> set[str]:
    schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
    return {s.get("$ref", "") for s in schema.get("anyOf", [schema])}


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _ in operations()], ids=lambda v: str(v))
def test_every_operation_documents_its_errors_with_the_error_schema(method: str, path: str) -> None:
    op = document()["paths"][path][method]
    errors = {code: answer for code, answer in op["responses"].items() if code[:1] in {"4", "5"}}
    if op.get(next(iter(NO_ERRORS_EXTRA))):  # a probe that always answers
        assert not op.get("parameters") and "requestBody" not in op and not op.get("security")
        return
    assert errors, f"{method.upper()} {path} documents no error status"
    for code, answer in errors.items():
        refs = _error_refs(answer)
        assert refs and refs <= ERROR_SCHEMAS | {"#/components/schemas/Readiness"}, (
            f"{method.upper()} {path}: {code} is not an error schema ({refs})"
        )
    codes = set(errors)
    if op.get("security"):
        assert "401" in codes, f"{method.upper()} {path}: takes credentials but documents no 401"
    if "requestBody" in op:
        assert {"400", "413"} <= codes, f"{method.upper()} {path}: a body but no 400/413 (limits)"
    if op.get(next(iter(VALIDATION_AS_400))):  # the /v1 routes: OpenAI answers 400, never 422
        assert "422" not in codes
    elif op.get("parameters") or "requestBody" in op:
        assert "422" in codes, f"{method.upper()} {path}: input but no 422 (validation)"
    by_id = [p for p in op.get("parameters", []) if p["in"] == "path" and p["name"].endswith("_id")]
    if by_id and op.get("security"):
        assert "404" in codes, f"{method.upper()} {path}: a record by id but no 404"


def test_no_fastapi_validation_schema_is_left() -> None:
    """The gateway answers 422 as ``{error, details, timestamp}``, never FastAPI's ``detail`` list."""
    text = str(document())
    assert "HTTPValidationError" not in text
    assert document()["components"]["schemas"]["ErrorBody"]["required"] == ["error", "details", "timestamp"]


def test_dependencies_declare_the_statuses_they_raise() -> None:
    """A route using ``DbSession`` (through the replica's context) documents 503; one calling a
    service through its gRPC client documents 504 too."""
    paths = document()["paths"]
    assert "503" in paths["/api/interviews"]["get"]["responses"]
    assert {"503", "504"} <= set(paths["/api/auth/register"]["post"]["responses"])
    assert "503" not in paths["/livez"]["get"]["responses"]


def test_errors_helper_describes_each_status_once() -> None:
    from services.gateway.shared.openapi import ERROR_DESCRIPTIONS, errors

    table = errors(404, described={409: "Not failed"})
    assert list(table) == [404, 409]
    assert table[404]["description"] == ERROR_DESCRIPTIONS[404] and table[409]["description"] == "Not failed"
    with pytest.raises(KeyError):
        errors(418)
