"""Request bodies declared in the OpenAPI document for routes that read their body themselves.

Upload routes stream their multipart body through one shared reader (size limits while
reading, a private temp copy, sniffing), so FastAPI does not see the fields and would
publish no ``requestBody``. Each such route declares its body from a pydantic model in its
product's ``schemas.py`` (field names, types, limits, descriptions)::

    @router.post("/api/audio/process", openapi_extra=form_body(ProcessAudioForm))

A file field is typed ``bytes`` (``{"type": "string", "format": "binary"}``, OpenAPI 3.1's
file upload). The models only document; parsing and validation stay with the route.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    if "$defs" in schema:
        raise TypeError(f"{model.__name__}: request-body models must be flat (no nested models or enums)")
    return schema


def form_body(model: type[BaseModel], *, description: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` declaring a required ``multipart/form-data`` body shaped like ``model``.

    Args:
        model: a flat pydantic model, one field per form field (``bytes`` for a file).
        description: text shown above the fields (default: the model's docstring).

    Returns:
        ``{"requestBody": {...}}`` for the route decorator's ``openapi_extra``.

    Raises:
        TypeError: the model nests another model or an enum class.
    """
    body: dict[str, Any] = {
        "required": True,
        "content": {"multipart/form-data": {"schema": _schema(model)}},
    }
    if description or model.__doc__:
        body["description"] = description or (model.__doc__ or "").strip()
    return {"requestBody": body}


def json_body(
    model: type[BaseModel], *, required: bool = True, description: str | None = None
) -> dict[str, Any]:
    """``openapi_extra`` declaring an ``application/json`` body shaped like ``model``.

    Args:
        model: a flat pydantic model.
        required: whether a body must be sent (``False``: an empty body takes the defaults).
        description: text shown above the fields (default: the model's docstring).

    Returns:
        ``{"requestBody": {...}}`` for the route decorator's ``openapi_extra``.

    Raises:
        TypeError: the model nests another model or an enum class.
    """
    body: dict[str, Any] = {
        "required": required,
        "content": {"application/json": {"schema": _schema(model)}},
    }
    if description or model.__doc__:
        body["description"] = description or (model.__doc__ or "").strip()
    return {"requestBody": body}
