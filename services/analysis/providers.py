"""Structured generation over the official provider SDKs: instructions + input + a pydantic
schema -> a validated object.

One interface, :class:`StructuredProvider`, three implementations:

=============  ===================  ==========================================================
provider       SDK                  how the schema is enforced
=============  ===================  ==========================================================
``openai``     ``openai``           Chat Completions ``response_format={"type": "json_schema",
                                    "json_schema": {..., "strict": true}}`` (Structured Outputs)
``anthropic``  ``anthropic``        Messages with one tool whose ``input_schema`` is the schema
                                    and ``tool_choice={"type": "tool"}``; the answer is the
                                    ``tool_use`` block's ``input``
``gemini``     ``google-genai``     ``generate_content`` with ``response_mime_type=
                                    "application/json"`` and ``response_schema``
=============  ===================  ==========================================================

The ``local`` provider name selects the deterministic local analyzers instead (no network);
:func:`create_provider` returns ``None`` for it.

Reliability (the same for every SDK; the SDKs' own retries are switched off):

- **Retries** on 408, 409, 429, 5xx, timeouts and connection errors, at most
  ``max_attempts`` calls (default 3), waiting ``min(base * 2**attempt + jitter, max)``
  (seed 003: base 2 s, max 60 s, jitter uniform in ``[0, base)``). A server's
  ``Retry-After`` / ``retry-after-ms`` header, or Gemini's ``google.rpc.RetryInfo``
  ``retryDelay``, replaces the computed delay (capped at ``max``).
- **Timeouts** per call: the SDK's own timeout plus an ``asyncio.timeout`` around it.
- **Validation retry**: an answer that is not JSON or does not validate against the schema
  is sent back once with the validation error; a second bad answer raises
  :class:`ProviderError` with code ``invalid_answer``.
- **Usage** (input/output tokens, latency, attempts) is logged per call (``llm.call``) and
  returned in :class:`Generation`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from services.analysis.config import AnalysisSettings
from services.common.logging import get_logger
from services.common.settings import ConfigurationError

log = get_logger("earshot.analysis.providers")

T = TypeVar("T", bound=BaseModel)

#: Rough tokens-per-character ratio for English text (OpenAI's rule of thumb: ~4 characters
#: per token). Used to plan chunks below a model's context window before calling it.
CHARS_PER_TOKEN = 4.0


def estimate_tokens(text: str) -> int:
    """Estimated token count of ``text`` (``ceil(len / 4)``; conservative for English)."""
    return int(-(-len(text) // CHARS_PER_TOKEN))


class ProviderError(RuntimeError):
    """A provider call failed for good.

    Attributes:
        code: ``rate_limited``, ``provider_unavailable``, ``timeout``, ``unreachable``,
            ``invalid_answer``, ``refused``, ``context_length_exceeded``, ``auth`` or ``bad_request``.
        details: human-readable explanation.
        retryable: whether another attempt may succeed.
        retry_after: seconds the server asked to wait, when it said so.
        status: HTTP status, when there was one.
    """

    def __init__(
        self,
        code: str,
        details: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class Usage:
    """What one :meth:`StructuredProvider.generate` cost.

    Attributes:
        provider, model: who answered.
        input_tokens, output_tokens: summed over every call made (as the provider reported).
        latency_s: wall time of the whole generate, retries and waits included.
        attempts: HTTP calls made (retries and the validation retry included).
    """

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_s: float
    attempts: int


@dataclass(frozen=True)
class Generation(Generic[T]):
    """A validated answer and its usage."""

    value: T
    usage: Usage


@dataclass(frozen=True)
class RawAnswer:
    """A provider's raw answer: the JSON text and the token counts it reported."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter (seed 003): ``min(base * 2**attempt + jitter, max)``.

    Attributes:
        max_attempts: calls in total, the first included.
        base_s: base delay, seconds.
        max_s: cap on any single wait, seconds (also caps ``Retry-After``).
        jitter_s: jitter is uniform in ``[0, jitter_s)``; defaults to ``base_s``.
        sleep: the awaitable used to wait (tests record the delays through it).
    """

    max_attempts: int = 3
    base_s: float = 2.0
    max_s: float = 60.0
    jitter_s: float | None = None
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_s))
        jitter = random.uniform(0, self.base_s if self.jitter_s is None else self.jitter_s)
        return float(min(self.base_s * (2**attempt) + jitter, self.max_s))


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); None if absent."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return float(ms) / 1000.0
        value = headers.get("retry-after")
    except Exception:  # headers of an unexpected type
        return None
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def status_error(status: int, message: str, retry_after: float | None = None) -> ProviderError:
    """Map an HTTP status from a provider to a :class:`ProviderError`."""
    if status == 429:
        return ProviderError("rate_limited", message, retryable=True, retry_after=retry_after, status=status)
    if status >= 500 or status in (408, 409):
        return ProviderError(
            "provider_unavailable", message, retryable=True, retry_after=retry_after, status=status
        )
    if status in (401, 403):
        return ProviderError("auth", message, status=status)
    lowered = message.lower()
    if "context_length" in lowered or "too long" in lowered or "token count" in lowered:
        return ProviderError("context_length_exceeded", message, status=status)
    return ProviderError("bad_request", message, status=status)


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in OpenAI's strict form: every object closed
    (``additionalProperties: false``), every property required, no defaults."""
    schema = model.model_json_schema()

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                node["additionalProperties"] = False
                node["required"] = list(node["properties"])
            node.pop("default", None)
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(schema)
    return schema


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def parse_answer(text: str, schema: type[T]) -> T:
    """Validate a JSON answer (a surrounding Markdown code fence is tolerated).

    Raises:
        pydantic.ValidationError: not JSON, or JSON that does not match ``schema``.
    """
    match = _FENCE.match(text)
    return schema.model_validate_json(match.group(1) if match else text)


class StructuredProvider(ABC):
    """One LLM behind one SDK: :meth:`generate` returns a validated pydantic object.

    Attributes:
        name: ``openai``, ``anthropic`` or ``gemini``.
        model: the model id sent with each call.
        context_tokens: the model's context window, tokens (analyzers chunk below it).
        max_output_tokens: the answer budget per call.
        timeout_s: per-call timeout, seconds.
        retry: the :class:`RetryPolicy`.
    """

    name: str = "abstract"

    def __init__(
        self,
        *,
        model: str,
        context_tokens: int,
        timeout_s: float = 60.0,
        max_output_tokens: int = 2048,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.model = model
        self.context_tokens = context_tokens
        self.timeout_s = timeout_s
        self.max_output_tokens = max_output_tokens
        self.retry = retry or RetryPolicy()

    @property
    def input_budget_tokens(self) -> int:
        """Tokens left for instructions + input after the answer budget and a 10% margin."""
        return int(self.context_tokens * 0.9) - self.max_output_tokens

    @abstractmethod
    async def _call(
        self, instructions: str, input_text: str, schema: type[BaseModel], feedback: tuple[str, str] | None
    ) -> RawAnswer:
        """One HTTP call. ``feedback`` is (previous answer, validation error) for the retry.

        Raises:
            ProviderError: mapped from the SDK's exceptions.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release the SDK client's connections."""

    async def generate(self, instructions: str, input_text: str, schema: type[T]) -> Generation[T]:
        """Ask the model for an object of ``schema`` given ``instructions`` and ``input_text``.

        Raises:
            ProviderError: after the retries (``rate_limited``, ``provider_unavailable``,
                ``timeout``, ``unreachable``), for a second invalid answer (``invalid_answer``),
                or at once for non-retryable errors (``auth``, ``bad_request``,
                ``context_length_exceeded``, ``refused``).
        """
        started = time.perf_counter()
        feedback: tuple[str, str] | None = None
        transport_attempt = 0
        calls = 0
        tokens_in = tokens_out = 0
        while True:
            calls += 1
            call_started = time.perf_counter()
            try:
                async with asyncio.timeout(self.timeout_s):
                    raw = await self._call(instructions, input_text, schema, feedback)
            except (TimeoutError, ProviderError) as exc:
                error = (
                    exc
                    if isinstance(exc, ProviderError)
                    else ProviderError("timeout", f"no answer within {self.timeout_s:g} s", retryable=True)
                )
                log.warning(
                    "llm.call_failed",
                    provider=self.name,
                    model=self.model,
                    error=error.code,
                    status=error.status,
                    attempt=transport_attempt + 1,
                    latency_ms=round((time.perf_counter() - call_started) * 1000, 1),
                )
                if error.retryable and transport_attempt + 1 < self.retry.max_attempts:
                    await self.retry.sleep(self.retry.delay(transport_attempt, error.retry_after))
                    transport_attempt += 1
                    continue
                raise error from None
            tokens_in += raw.input_tokens
            tokens_out += raw.output_tokens
            log.info(
                "llm.call",
                provider=self.name,
                model=self.model,
                schema=schema.__name__,
                input_tokens=raw.input_tokens,
                output_tokens=raw.output_tokens,
                latency_ms=round((time.perf_counter() - call_started) * 1000, 1),
                attempt=calls,
            )
            try:
                value = parse_answer(raw.text, schema)
            except ValidationError as exc:
                if feedback is not None:
                    raise ProviderError(
                        "invalid_answer",
                        f"{self.name} answered twice without matching {schema.__name__}: "
                        f"{exc.error_count()} validation errors, first: {exc.errors()[0]['msg']}",
                    ) from None
                feedback = (raw.text, str(exc))
                continue
            usage = Usage(
                provider=self.name,
                model=self.model,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                latency_s=time.perf_counter() - started,
                attempts=calls,
            )
            return Generation(value=value, usage=usage)


def _feedback_text(error: str) -> str:
    return (
        "Your previous answer did not match the required JSON schema. Validation errors:\n"
        f"{error[:2000]}\nAnswer again with one JSON object that matches the schema exactly."
    )


def _schema_name(schema: type[BaseModel]) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64]


class OpenAIProvider(StructuredProvider):
    """OpenAI Chat Completions with Structured Outputs (``json_schema``, ``strict``)."""

    name = "openai"

    def __init__(self, *, api_key: str, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        import openai

        self._openai = openai
        self.client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=self.timeout_s
        )

    async def aclose(self) -> None:
        await self.client.close()

    async def _call(
        self, instructions: str, input_text: str, schema: type[BaseModel], feedback: tuple[str, str] | None
    ) -> RawAnswer:
        openai = self._openai
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": instructions},
            {"role": "user", "content": input_text},
        ]
        if feedback:
            messages += [
                {"role": "assistant", "content": feedback[0]},
                {"role": "user", "content": _feedback_text(feedback[1])},
            ]
        try:
            response = await self.client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=messages,
                temperature=0,
                max_completion_tokens=self.max_output_tokens,
                response_format={
                    "type": "json_schema",
                    "json_schema": {
                        "name": _schema_name(schema),
                        "schema": strict_json_schema(schema),
                        "strict": True,
                    },
                },
            )
        except openai.APIStatusError as exc:
            raise status_error(
                exc.status_code, str(exc.message), parse_retry_after(exc.response.headers)
            ) from exc
        except openai.APITimeoutError as exc:
            raise ProviderError("timeout", str(exc), retryable=True) from exc
        except openai.APIConnectionError as exc:
            raise ProviderError("unreachable", str(exc), retryable=True) from exc
        if not response.choices:
            raise ProviderError("provider_unavailable", "answer without choices", retryable=True)
        message = response.choices[0].message
        if message.refusal:
            raise ProviderError("refused", message.refusal)
        usage = response.usage
        return RawAnswer(
            text=message.content or "",
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
        )


class AnthropicProvider(StructuredProvider):
    """Anthropic Messages; the schema is a forced tool's ``input_schema``."""

    name = "anthropic"

    def __init__(self, *, api_key: str, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        import anthropic

        self._anthropic = anthropic
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=self.timeout_s
        )

    async def aclose(self) -> None:
        await self.client.close()

    async def _call(
        self, instructions: str, input_text: str, schema: type[BaseModel], feedback: tuple[str, str] | None
    ) -> RawAnswer:
        anthropic = self._anthropic
        tool = _schema_name(schema)
        messages: list[dict[str, Any]] = [{"role": "user", "content": input_text}]
        if feedback:
            messages += [
                {"role": "assistant", "content": feedback[0] or "{}"},
                {"role": "user", "content": _feedback_text(feedback[1])},
            ]
        try:
            response = await self.client.messages.create(  # type: ignore[call-overload]
                model=self.model,
                max_tokens=self.max_output_tokens,
                temperature=0,
                system=instructions,
                messages=messages,
                tools=[
                    {
                        "name": tool,
                        "description": f"Record the answer as a {schema.__name__} object.",
                        "input_schema": schema.model_json_schema(),
                    }
                ],
                tool_choice={"type": "tool", "name": tool},
            )
        except anthropic.APIStatusError as exc:
            raise status_error(
                exc.status_code, str(exc.message), parse_retry_after(exc.response.headers)
            ) from exc
        except anthropic.APITimeoutError as exc:
            raise ProviderError("timeout", str(exc), retryable=True) from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderError("unreachable", str(exc), retryable=True) from exc
        text = ""
        for block in response.content:
            if block.type == "tool_use":
                text = json.dumps(block.input)
                break
            if block.type == "text":
                text += block.text
        return RawAnswer(
            text=text,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
        )


def _gemini_retry_delay(details: Any) -> float | None:
    """``retryDelay`` ("30s") of a ``google.rpc.RetryInfo`` in a Gemini error body."""
    try:
        for item in details.get("error", {}).get("details", []) or []:
            if str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
                return float(str(item.get("retryDelay", "")).rstrip("s"))
    except (AttributeError, ValueError):
        return None
    return None


class GeminiProvider(StructuredProvider):
    """Google Gemini through ``google-genai``: JSON mime type + ``response_json_schema``."""

    name = "gemini"

    def __init__(self, *, api_key: str, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from google import genai
        from google.genai import errors, types

        self._errors = errors
        self._types = types
        options = types.HttpOptions(timeout=int(self.timeout_s * 1000), base_url=base_url)
        self.client = genai.Client(api_key=api_key, http_options=options)

    async def aclose(self) -> None:
        await self.client.aio.aclose()

    async def _call(
        self, instructions: str, input_text: str, schema: type[BaseModel], feedback: tuple[str, str] | None
    ) -> RawAnswer:
        import httpx

        types = self._types
        contents = [types.Content(role="user", parts=[types.Part(text=input_text)])]
        if feedback:
            contents += [
                types.Content(role="model", parts=[types.Part(text=feedback[0] or "{}")]),
                types.Content(role="user", parts=[types.Part(text=_feedback_text(feedback[1]))]),
            ]
        config = types.GenerateContentConfig(
            system_instruction=instructions,
            response_mime_type="application/json",
            response_json_schema=schema.model_json_schema(),
            temperature=0,
            max_output_tokens=self.max_output_tokens,
        )
        try:
            response = await self.client.aio.models.generate_content(
                model=self.model,
                contents=contents,  # type: ignore[arg-type]
                config=config,
            )
        except self._errors.APIError as exc:
            headers = getattr(exc.response, "headers", None)
            retry_after = parse_retry_after(headers)
            if retry_after is None:
                retry_after = _gemini_retry_delay(exc.details)
            raise status_error(int(exc.code or 500), str(exc.message or exc), retry_after) from exc
        except httpx.TimeoutException as exc:
            raise ProviderError("timeout", str(exc) or "timed out", retryable=True) from exc
        except httpx.TransportError as exc:
            raise ProviderError("unreachable", str(exc), retryable=True) from exc
        meta = response.usage_metadata
        return RawAnswer(
            text=response.text or "",
            input_tokens=(meta.prompt_token_count or 0) if meta else 0,
            output_tokens=(meta.candidates_token_count or 0) if meta else 0,
        )


PROVIDERS = ("local", "openai", "anthropic", "gemini")


def create_provider(name: str, settings: AnalysisSettings) -> StructuredProvider | None:
    """The provider named ``name`` configured from ``settings``; ``None`` for ``local``.

    Raises:
        ConfigurationError: unknown name, or the provider's API key is not set.
    """
    if name == "local":
        return None
    common: dict[str, Any] = {
        "timeout_s": settings.llm_timeout_s,
        "max_output_tokens": settings.llm_max_output_tokens,
        "retry": RetryPolicy(
            max_attempts=settings.llm_max_attempts,
            base_s=settings.llm_backoff_base_s,
            max_s=settings.llm_backoff_max_s,
        ),
    }
    if name == "openai":
        if not settings.openai_api_key:
            raise ConfigurationError("OPENAI_API_KEY must be set to use the openai provider")
        return OpenAIProvider(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            context_tokens=settings.openai_context_tokens,
            **common,
        )
    if name == "anthropic":
        if not settings.anthropic_api_key:
            raise ConfigurationError("ANTHROPIC_API_KEY must be set to use the anthropic provider")
        return AnthropicProvider(
            api_key=settings.anthropic_api_key,
            base_url=settings.anthropic_base_url,
            model=settings.anthropic_model,
            context_tokens=settings.anthropic_context_tokens,
            **common,
        )
    if name == "gemini":
        if not settings.gemini_api_key:
            raise ConfigurationError(
                "GEMINI_API_KEY (or GOOGLE_API_KEY) must be set to use the gemini provider"
            )
        return GeminiProvider(
            api_key=settings.gemini_api_key,
            base_url=settings.gemini_base_url,
            model=settings.gemini_model,
            context_tokens=settings.gemini_context_tokens,
            **common,
        )
    raise ConfigurationError(f"unknown analysis provider {name!r}; choose from {', '.join(PROVIDERS)}")
