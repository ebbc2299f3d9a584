"""Request bodies declared in the OpenAPI document for routes that read their body themselves.

Upload routes stream their multipart body through one shared reader (size limits while
reading, a private temp copy, sniffing), so FastAPI does not see the fields and would publish
no ``requestBody``. Each such route declares its body from pydantic models in its product's
``schemas.py`` (field names, types, limits, descriptions)::

    @router.post("/api/audio/process", openapi_extra=request_body(form=ProcessAudioForm))

A file field is typed ``bytes`` (``{"type": "string", "format": "binary"}``, the OpenAPI file
upload). The models only document: parsing and validation stay with the route, and
``tests/unit/test_openapi_contract.py`` checks that every write route declares a body.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, WithJsonSchema

__all__ = ["NO_BODY", "FileField", "OptionalFileField", "file_responses", "request_body"]

FileField = Annotated[bytes, WithJsonSchema({"type": "string", "format": "binary"})]
"""A multipart file field (``format: binary``: Swagger UI shows a file picker)."""

OptionalFileField = Annotated[bytes | None, WithJsonSchema({"type": "string", "format": "binary"})]
"""A multipart file field that may be left out (one of several accepted layouts)."""

NO_BODY = {"x-earshot-no-body": True}
"""``openapi_extra`` of a write route that takes no body at all (the contract test accepts it)."""


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    if "$defs" in schema:
        raise TypeError(f"{model.__name__}: request-body models must be flat (no nested models or enums)")
    return schema


def request_body(
    *,
    form: type[BaseModel] | None = None,
    json: type[BaseModel] | None = None,
    required: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    """``openapi_extra`` declaring a route's request body.

    Args:
        form: a flat model of the ``multipart/form-data`` fields (``bytes`` for a file).
        json: a flat model of the ``application/json`` object.
        required: whether a body must be sent (``False``: an empty body takes the defaults).
        description: text shown above the fields (default: the first model's docstring).

    Returns:
        ``{"requestBody": {...}}`` for the route decorator's ``openapi_extra``.

    Raises:
        TypeError: no model given, or a model nests another model or an enum class.
    """
    content: dict[str, Any] = {}
    if form is not None:
        content["multipart/form-data"] = {"schema": _schema(form)}
    if json is not None:
        content["application/json"] = {"schema": _schema(json)}
    if not content:
        raise TypeError("request_body needs a form or a json model")
    body: dict[str, Any] = {"required": required, "content": content}
    text = description or ((form or json).__doc__ or "").strip()  # type: ignore[union-attr]
    if text:
        body["description"] = text
    return {"requestBody": body}


def file_responses(media_type: str, *, redirect: bool = True) -> dict[int | str, dict[str, Any]]:
    """``responses`` of a download route: 200 with the file's bytes as ``media_type`` (and, with
    ``redirect``, a 307 to a presigned URL)."""
    out: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "The file",
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }
    if redirect:
        out[307] = {"description": "Redirect to a presigned URL (object storage, or ?redirect=true)"}
    return out
