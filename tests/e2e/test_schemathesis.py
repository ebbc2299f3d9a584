"""schemathesis over the gateway's whole OpenAPI document against the embedded platform on
real HTTP (issue 15, part 5): every operation, positive and negative examples, signed in as a
user and with an API key, schemathesis' default checks plus ``not_a_server_error``.

It must find no 5xx and no violation of the document (undocumented status code, content
type, response body not matching its schema, invalid data accepted...). The run is bounded
(``MAX_EXAMPLES`` per operation and generation mode, examples derandomized so every run sends
the same cases) and prints one JSON line: operations, cases, 5xx count, failures.
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

from services.common.api_keys import parse_api_keys
from tests.conftest import Embedded, auth_header, sign_up

MAX_EXAMPLES = 8
"""Examples per operation and generation mode (positive, negative): bounds the run to a few
minutes on two cores."""

API_KEY = "ek_fuzz_" + uuid.uuid4().hex
SIGN_OUT = "/api/auth/logout"
"""Ends the session of the token it is called with: fuzzed with a user of its own."""


@dataclass
class Tally:
    """What the run sent and found."""

    operations: int = 0
    cases: int = 0
    nothing_to_negate: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "cases": self.cases,
            "operations_without_negative_cases": self.nothing_to_negate,
            "5xx": sum(n for code, n in self.statuses.items() if code >= 500),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures": len(self.failures),
        }


def check_examples(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
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
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=60)
        tally.cases += 1
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.server_errors.append(f"{label}: {response.status_code} {response.text[:300]}")
        try:
            case.validate_response(
                response,
                additional_checks=[not_a_server_error],
                headers=headers,
                transport_kwargs={"base_url": base_url, "session": session, "headers": headers},
            )
        except (Failure, FailureGroup) as failure:
            found = failure.exceptions if isinstance(failure, FailureGroup) else (failure,)
            for one_failure in found:
                key = f"{label} {one_failure.code} {one_failure.title} {response.status_code}"
                tally.failures.setdefault(
                    key, f"{one_failure.message[:1500]}\n{case.as_curl_command(headers={})}"
                )

    try:
        one()
    except hypothesis.errors.Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        tally.nothing_to_negate += 1  # no parameter and no body: no invalid request exists


def fuzz(document: dict[str, Any], base_url: str, headers_for: dict[str, dict[str, str]]) -> Tally:
    """Run every operation of ``document`` against ``base_url`` (blocking; call in a thread).

    Args:
        headers_for: headers of every request by path (key ``"*"``: every other path).

    Returns:
        the :class:`Tally`; a failure is recorded per operation and mode (first one found).
    """
    schema = schemathesis.openapi.from_dict(document)
    tally = Tally()
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        tally.operations += 1
        headers = headers_for.get(operation.path, headers_for["*"])
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            check_examples(operation, mode, base_url, session, headers, tally)
    return tally


async def test_the_whole_document_holds_under_schemathesis(embedded: Embedded) -> None:
    settings = embedded.runtime.settings
    before = settings.api_key_hashes
    settings.api_key_hashes = parse_api_keys(API_KEY)
    try:
        async with httpx.AsyncClient(base_url=embedded.url, timeout=60) as client:
            user = auth_header(await sign_up(client, "Fuzzer"))
            leaving = auth_header(await sign_up(client, "Leaver"))
            document = (await client.get("/openapi.json")).json()
        common = {"X-API-Key": API_KEY}
        headers_for = {"*": {**user, **common}, SIGN_OUT: {**leaving, **common}}
        tally = await asyncio.to_thread(fuzz, document, embedded.url, headers_for)
    finally:
        settings.api_key_hashes = before
    print(json.dumps({"schemathesis": schemathesis.__version__, **tally.summary()}))
    expected = sum(
        1
        for item in document["paths"].values()
        for m in item
        if m in {"get", "post", "put", "patch", "delete"}
    )
    assert tally.operations == expected
    assert tally.cases >= tally.operations
    problems = [f"== 5xx {line}" for line in tally.server_errors[:20]]
    problems += [f"== {label}\n{text}" for label, text in sorted(tally.failures.items())]
    assert not problems, "\n\n".join(problems)
