"""schemathesis over the gateway's whole OpenAPI document against the embedded platform on
real HTTP (issue 15, part 5): every operation, positive and negative examples, signed in as a
user through schemathesis' own auth (bearer token; the API-key routes are locked for the run,
``EARSHOT_API_KEYS`` set, and take the token as their key), schemathesis' default checks plus
``not_a_server_error``.

It must find no 5xx and no violation of the document: an undocumented status code or content
type, a response body that does not match its schema, invalid data accepted, valid data
refused. The run is bounded (``MAX_EXAMPLES`` per operation and generation mode; examples
derandomized, so every run sends the same cases) and prints one JSON line: operations, cases,
5xx count, statuses, failures.

Two settings, each with its reason:

* unknown query parameters are not generated (``allow-extra-parameters = false``): the
  gateway ignores them, as HTTP APIs do, and OpenAPI cannot declare a closed query string.
* ``positive_data_acceptance`` (valid data must be accepted) is left out for the operations
  in :func:`content_decides`: a JSON Schema cannot say "a decodable recording or image", "a
  password that is not a common one", "an fdaf block that is a power of two", "date_from not
  after date_to" or "the code and state the provider issued", so schema-valid requests are
  rightly refused there (with a documented 4xx, which the other checks still verify).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from services.common.api_keys import parse_api_keys
from tests.conftest import Embedded, sign_up

MAX_EXAMPLES = 20
"""Examples per operation and generation mode (positive, negative): bounds the run to about two
minutes on two cores (about 4,600 requests)."""

API_KEY = "ek_fuzz_" + uuid.uuid4().hex
SIGN_OUT = "/api/auth/logout"
"""Ends the session of the token it is called with: fuzzed with a user of its own."""

RULES_BEYOND_THE_SCHEMA = {
    "/api/users": "password strength (not a common password, 3+ distinct characters)",
    "/api/auth/register": "password strength (not a common password, 3+ distinct characters)",
    "/api/audio/stream": "ANC parameters depend on each other (fdaf block a power of two, mu per algorithm)",
    "/api/v1/mobile/auth/{provider}/callback": "code and state must be the ones the provider issued",
    "/api/v1/web/auth/{provider}/callback": "code and state must be the ones the provider issued",
    "/api/v1/mobile/meetings/": "date_from must not be after date_to (422)",
    "/api/v1/web/meetings/": "date_from must not be after date_to (422)",
}
"""Operations without a file whose acceptance depends on rules a JSON Schema cannot state."""


def content_decides(document: dict[str, Any], operation: dict[str, Any], path: str) -> bool:
    """Whether a schema-valid request to this operation may still be refused for what it
    carries: a file part (its content is decoded) or a rule in :data:`RULES_BEYOND_THE_SCHEMA`."""
    if path in RULES_BEYOND_THE_SCHEMA:
        return True
    for content in operation.get("requestBody", {}).get("content", {}).values():
        schema = content.get("schema", {})
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        for prop in schema.get("properties", {}).values():
            variants = [prop, *prop.get("anyOf", [])]
            if any(v.get("format") == "binary" or v.get("contentMediaType") for v in variants):
                return True
    return False


@dataclass
class Tally:
    """What the run sent and found."""

    operations: int = 0
    cases: int = 0
    nothing_to_negate: int = 0
    acceptance_not_checked: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "cases": self.cases,
            "5xx": sum(n for code, n in self.statuses.items() if code >= 500),
            "failures": len(self.failures),
            "operations_without_negative_cases": self.nothing_to_negate,
            "operations_without_positive_data_acceptance": self.acceptance_not_checked,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


def load(document: dict[str, Any], token: str) -> schemathesis.BaseSchema:
    """``document`` as a schemathesis schema that authenticates as ``token`` and ``API_KEY``
    (per security scheme: checks that drop or spoil credentials see the 401)."""
    config = schemathesis.Config.from_dict(
        {
            "auth": {
                "openapi": {"HTTPBearer": {"bearer": token}, "APIKeyHeader": {"api_key": API_KEY}},
            },
            "generation": {"allow-extra-parameters": False},
        }
    )
    return schemathesis.openapi.from_dict(document, config=config)


def check_examples(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    excluded: list[Any],
    tally: Tally,
) -> None:
    """Send ``MAX_EXAMPLES`` examples of ``operation`` in ``mode`` and check every answer."""
    label = f"{operation.label} [{mode.value}]"

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, session=session, timeout=60)
        tally.cases += 1
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.server_errors.append(f"{label}: {response.status_code} {response.text[:300]}")
        try:
            case.validate_response(
                response,
                additional_checks=[not_a_server_error],
                excluded_checks=excluded,
                transport_kwargs={"base_url": base_url, "session": session},
            )
        except (Failure, FailureGroup) as failure:
            found = failure.exceptions if isinstance(failure, FailureGroup) else (failure,)
            for each in found:
                key = f"{label} {each.code} {each.title} {response.status_code}"
                text = f"{each.message[:1500]}\n{response.text[:500]}\n{case.as_curl_command(headers={})}"
                tally.failures.setdefault(key, text)

    try:
        one()
    except hypothesis.errors.Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        tally.nothing_to_negate += 1  # no parameter and no body: no invalid request exists


def fuzz(document: dict[str, Any], base_url: str, token: str, leaving_token: str) -> Tally:
    """Run every operation of ``document`` against ``base_url`` (blocking: call it in a thread).

    Args:
        token: the access token of every operation but :data:`SIGN_OUT`.
        leaving_token: the token :data:`SIGN_OUT` is fuzzed with (it ends that session).

    Returns:
        the :class:`Tally`; failures keyed by operation, mode, check and status.
    """
    schemas = {False: load(document, token), True: load(document, leaving_token)}
    tally = Tally()
    session = requests.Session()
    for path, item in document["paths"].items():
        for method, spec in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            operation = schemas[path == SIGN_OUT][path][method.upper()]
            tally.operations += 1
            excluded = [positive_data_acceptance] if content_decides(document, spec, path) else []
            tally.acceptance_not_checked += bool(excluded)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                check_examples(operation, mode, base_url, session, excluded, tally)
    return tally


async def test_the_whole_document_holds_under_schemathesis(embedded: Embedded) -> None:
    settings = embedded.runtime.settings
    before = settings.api_key_hashes
    settings.api_key_hashes = parse_api_keys(API_KEY)
    try:
        async with httpx.AsyncClient(base_url=embedded.url, timeout=60) as client:
            token = (await sign_up(client, "Fuzzer"))["access_token"]
            leaving = (await sign_up(client, "Leaver"))["access_token"]
            document = (await client.get("/openapi.json")).json()
        tally = await asyncio.to_thread(fuzz, document, embedded.url, token, leaving)
    finally:
        settings.api_key_hashes = before
    print(json.dumps({"schemathesis": schemathesis.__version__, **tally.summary()}))
    methods = {"get", "post", "put", "patch", "delete"}
    expected = sum(1 for item in document["paths"].values() for m in item if m in methods)
    assert tally.operations == expected
    assert tally.cases >= 2 * tally.operations - tally.nothing_to_negate
    problems = [f"== 5xx {line}" for line in tally.server_errors[:20]]
    problems += [f"== {label}\n{text}" for label, text in sorted(tally.failures.items())]
    assert not problems, "\n\n".join(problems)
