"""What the OpenAPI document says beyond FastAPI's defaults: request bodies of routes that read
their body themselves, and the error answers of every operation.

**Request bodies.**

Upload routes stream their multipart body through one shared reader (size limits while
reading, a private temp copy, sniffing), so FastAPI does not see the fields and would publish
no ``requestBody``. Each such route declares its body from pydantic models in its product's
``schemas.py`` (field names, types, limits, descriptions)::

    @router.post("/api/audio/process", openapi_extra=request_body(form=ProcessAudioForm))

A file field is typed ``bytes`` (``{"type": "string", "format": "binary"}``, the OpenAPI file
upload). The models only document: parsing and validation stay with the route, and
``tests/unit/test_openapi_contract.py`` checks that every write route declares a body.

**Errors.** Every error answer is :class:`~services.gateway.shared.errors.ErrorBody`. A route
declares the statuses it raises itself in its ``responses=`` (``errors(404, 409)``, from one
table of descriptions, :data:`ERROR_DESCRIPTIONS`); :func:`complete_error_responses` adds, once
per document, the statuses that shared machinery answers for it:

========= ================================================================================
401       the operation has a security requirement (``CurrentUser``, ``OptionalUser``, API key)
400, 413  it takes a request body (JSON nesting and size limits, multipart body limit)
422       it takes parameters or a body (validation); FastAPI's ``HTTPValidationError``
          schema is replaced: the gateway answers ``{error, details, timestamp}``
statuses  declared by its dependencies with :func:`answers` (e.g. 503 from the replica's
          context, the database session, the gRPC clients)
========= ================================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, WithJsonSchema

from services.gateway.shared.errors import ErrorBody

__all__ = [
    "ERROR_DESCRIPTIONS",
    "NO_BODY",
    "NO_ERRORS",
    "VALIDATION_AS_400",
    "FileField",
    "OptionalFileField",
    "answers",
    "complete_error_responses",
    "errors",
    "file_responses",
    "install_openapi",
    "request_body",
]

F = TypeVar("F", bound=Callable[..., Any])

FileField = Annotated[bytes, WithJsonSchema({"type": "string", "format": "binary"})]
"""A multipart file field (``format: binary``: Swagger UI shows a file picker)."""

OptionalFileField = Annotated[bytes | None, WithJsonSchema({"type": "string", "format": "binary"})]
"""A multipart file field that may be left out (one of several accepted layouts)."""

NO_BODY = {"x-earshot-no-body": True}
"""``openapi_extra`` of a write route that takes no body at all (the contract test accepts it)."""

VALIDATION_AS_400 = {"x-earshot-validation-status": 400}
"""``openapi_extra`` of a route that answers validation errors with 400, not 422 (the OpenAI-
compatible routes): :func:`complete_error_responses` documents no 422 for it."""

NO_ERRORS = {"x-earshot-no-errors": True}
"""``openapi_extra`` of a route that always answers (a liveness probe, a static listing): no
input, no dependency, nothing to refuse. The contract test accepts it without an error status."""


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


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed or refused input (details say which field or why)",
    401: "Missing, malformed, expired, wrongly signed or revoked credentials (WWW-Authenticate)",
    403: "Not allowed for this caller",
    404: "No such record for this caller (another user's record answers 404 too)",
    409: "The record's state does not allow it (details say why)",
    413: "Request body over its size limit",
    415: "Unsupported media type",
    422: "A parameter or body field failed validation (details name it)",
    429: "Too many requests (Retry-After says when to try again)",
    502: "A service answered with an error",
    503: "A dependency (database, storage, bus or a service) is unavailable (Retry-After)",
    504: "A service did not answer in time",
}
"""The default description of each error status (a route may give its own)."""

_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_MARK = "__earshot_answers__"


def errors(*statuses: int, described: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for error statuses, each with the :class:`ErrorBody` schema.

    Args:
        statuses: HTTP statuses (described by :data:`ERROR_DESCRIPTIONS`).
        described: statuses with the route's own description (added to ``statuses``).

    Returns:
        ``{status: {"model": ErrorBody, "description": ...}}``.

    Raises:
        KeyError: a status without a description in either table.
    """
    own = dict(described or {})
    return {
        status: {"model": ErrorBody, "description": own.get(status) or ERROR_DESCRIPTIONS[status]}
        for status in sorted({*statuses, *own})
    }


def answers(*statuses: int) -> Callable[[F], F]:
    """Mark a dependency with the error statuses it raises, so that every operation using it
    (directly or through another dependency) documents them (:func:`complete_error_responses`)."""

    def mark(func: F) -> F:
        setattr(func, _MARK, tuple(statuses))
        return func

    return mark


def _dependency_statuses(dependant: Dependant) -> set[int]:
    found: set[int] = set()
    for dep in dependant.dependencies:
        found.update(getattr(dep.call, _MARK, ()))
        found |= _dependency_statuses(dep)
    return found


def _has_input(operation: Mapping[str, Any]) -> bool:
    return bool(operation.get("parameters") or operation.get("requestBody"))


def complete_error_responses(document: dict[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    """Add the statuses shared machinery answers (table in the module docstring) to every
    operation of ``document``, and give every error answer the :class:`ErrorBody` schema.

    Args:
        document: an OpenAPI document built by FastAPI from ``routes`` (changed in place).
        routes: the application's routes (their dependencies say which statuses they add).

    Returns:
        ``document``.
    """
    by_operation: dict[tuple[str, str], set[int]] = {}
    for route in iter_route_contexts(list(routes)):  # routes of included routers too
        if isinstance(route.original_route, APIRoute) and route.original_route.include_in_schema:
            for method in route.methods or ():
                by_operation[(str(route.path_format), method.lower())] = _dependency_statuses(route.dependant)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            added = set(by_operation.get((path, method), set()))
            if operation.get("security"):
                added.add(401)
            if operation.get("requestBody"):
                added |= {400, 413}
            if _has_input(operation) and not operation.get(next(iter(VALIDATION_AS_400))):
                added.add(422)
            if operation.get(next(iter(VALIDATION_AS_400))):
                responses.pop("422", None)
            for code in sorted(added):
                responses.setdefault(str(code), {"description": ERROR_DESCRIPTIONS[code]})
            for key, answer in responses.items():
                if key[:1] in {"4", "5"} and not _own_error_shape(answer):
                    answer["content"] = dict(_ERROR_CONTENT)
                    if answer.get("description") in (None, "", "Validation Error"):
                        answer["description"] = ERROR_DESCRIPTIONS.get(int(key), "Error")
            operation["responses"] = dict(sorted(responses.items()))
    if not any(
        "HTTPValidationError" in str(op.get("responses", {}))
        for item in document.get("paths", {}).values()
        for op in item.values()
        if isinstance(op, dict)
    ):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return document


def _own_error_shape(answer: Mapping[str, Any]) -> bool:
    """An error answer that names its own schema (not FastAPI's ``HTTPValidationError``)."""
    content = answer.get("content") or {}
    schema = (content.get("application/json") or {}).get("schema") or {}
    ref = str(schema.get("$ref", ""))
    return bool(content) and not ref.endswith("/HTTPValidationError")


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and ``GET /openapi.json``) return the completed document
    (:func:`complete_error_responses`), built once."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_error_responses(build(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
