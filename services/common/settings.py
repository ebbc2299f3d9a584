"""Settings for every service, read from the environment (and an optional ``.env`` file).

Variables carry the ``EARSHOT_`` prefix (``EARSHOT_BUS_URL``); where a seed
document names its own variable (``MAX_FILE_SIZE``, ``ALLOWED_EXTENSIONS``,
``OPENAI_API_KEY``, ``PORT``) that name is accepted too. Invalid configuration
stops start-up with one clear message naming the variable
(:class:`ConfigurationError`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.common.api_keys import parse_api_keys


class ConfigurationError(RuntimeError):
    """Raised when a setting is invalid; the message names the environment variable."""


def _env(name: str, *seed_names: str) -> Any:
    """Accept ``EARSHOT_<NAME>`` and any seed-defined names for one field."""
    return AliasChoices(f"EARSHOT_{name}", *seed_names)


class Settings(BaseSettings):
    """All of Earshot's settings. Defaults give the embedded mode: no servers, no keys."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- process -------------------------------------------------------------------------
    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=_env("ENVIRONMENT")
    )
    host: str = Field("127.0.0.1", validation_alias=_env("HOST", "HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=_env("PORT", "PORT"))
    public_url: str | None = Field(None, validation_alias=_env("PUBLIC_URL"))
    data_dir: Path = Field(Path(".earshot"), validation_alias=_env("DATA_DIR"))
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", validation_alias=_env("LOG_LEVEL", "LOG_LEVEL")
    )
    log_format: Literal["json", "console"] = Field("json", validation_alias=_env("LOG_FORMAT"))
    instance_id: str | None = Field(None, validation_alias=_env("INSTANCE_ID", "HOSTNAME"))

    # --- adapters, chosen by URL ---------------------------------------------------------
    bus_url: str = Field("memory://", validation_alias=_env("BUS_URL"))
    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    storage_url: str | None = Field(None, validation_alias=_env("STORAGE_URL"))
    storage_signing_key: str | None = Field(None, validation_alias=_env("STORAGE_SIGNING_KEY"))
    bus_partitions: int = Field(6, ge=1, le=1000, validation_alias=_env("BUS_PARTITIONS"))
    bus_replication: int = Field(1, ge=1, le=10, validation_alias=_env("BUS_REPLICATION"))
    # Prefix of every Kafka topic and consumer group ("<namespace>."), for several
    # environments on one cluster; empty: the plain names of docs/events.md.
    bus_namespace: str = Field(
        "", max_length=100, pattern=r"^[A-Za-z0-9._-]*$", validation_alias=_env("BUS_NAMESPACE")
    )

    # --- metrics (issue 3) ---------------------------------------------------------------
    # Prometheus text format: the gateway serves /metrics on its HTTP port; other services
    # run by `earshot serve` serve it on METRICS_HOST:METRICS_PORT (0 = no metrics server).
    metrics_host: str = Field("127.0.0.1", validation_alias=_env("METRICS_HOST"))
    metrics_port: int = Field(9464, ge=0, le=65535, validation_alias=_env("METRICS_PORT"))
    bus_max_attempts: int = Field(4, ge=1, le=100, validation_alias=_env("BUS_MAX_ATTEMPTS"))
    bus_retry_backoff_s: float = Field(0.2, gt=0, le=60, validation_alias=_env("BUS_RETRY_BACKOFF_S"))
    # How long start-up (and `earshot migrate`) keeps retrying Kafka, the database, object
    # storage and the gRPC targets it calls before exiting with one line naming the one down.
    startup_timeout_s: float = Field(30.0, ge=0, le=3600, validation_alias=_env("STARTUP_TIMEOUT_S"))

    # --- gRPC ----------------------------------------------------------------------------
    grpc_host: str = Field("127.0.0.1", validation_alias=_env("GRPC_HOST"))
    # Each service's gRPC port (0 picks a free one) and, for callers in other processes,
    # its target host:port. In one process the target is taken from the running server.
    auth_grpc_port: int = Field(50051, ge=0, le=65535, validation_alias=_env("AUTH_GRPC_PORT"))
    transcription_grpc_port: int = Field(
        50052, ge=0, le=65535, validation_alias=_env("TRANSCRIPTION_GRPC_PORT")
    )
    analysis_grpc_port: int = Field(50053, ge=0, le=65535, validation_alias=_env("ANALYSIS_GRPC_PORT"))
    anc_grpc_port: int = Field(50055, ge=0, le=65535, validation_alias=_env("ANC_GRPC_PORT"))
    auth_grpc_target: str | None = Field(None, validation_alias=_env("AUTH_GRPC_TARGET"))
    transcription_grpc_target: str | None = Field(None, validation_alias=_env("TRANSCRIPTION_GRPC_TARGET"))
    analysis_grpc_target: str | None = Field(None, validation_alias=_env("ANALYSIS_GRPC_TARGET"))
    anc_grpc_target: str | None = Field(None, validation_alias=_env("ANC_GRPC_TARGET"))
    grpc_deadline_s: float = Field(60.0, gt=0, validation_alias=_env("GRPC_DEADLINE_S"))

    # --- tracing -------------------------------------------------------------------------
    otlp_endpoint: str | None = Field(
        None, validation_alias=_env("OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    otlp_protocol: Literal["grpc", "http/protobuf"] = Field(
        "grpc", validation_alias=_env("OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    )

    # --- uploads (seed 000) --------------------------------------------------------------
    max_file_size_mb: float = Field(
        25, gt=0, le=10_000, validation_alias=_env("MAX_FILE_SIZE", "MAX_FILE_SIZE")
    )
    allowed_extensions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["wav", "mp3", "m4a", "flac", "ogg"],
        validation_alias=_env("ALLOWED_EXTENSIONS", "ALLOWED_EXTENSIONS"),
    )
    max_audio_duration_s: float = Field(300, gt=0, validation_alias=_env("MAX_AUDIO_DURATION_S"))
    openai_max_audio_duration_s: float = Field(
        7200, gt=0, validation_alias=_env("OPENAI_MAX_AUDIO_DURATION_S")
    )
    """Longest recording ``POST /v1/audio/transcriptions`` accepts (s, default 2 h), measured on
    the decoded stream."""
    request_timeout_s: float = Field(120, gt=0, validation_alias=_env("REQUEST_TIMEOUT_S"))
    http_header_timeout_s: float = Field(10, gt=0, validation_alias=_env("HTTP_HEADER_TIMEOUT_S"))
    """Seconds a request's line and headers may take before 408 and close (slow clients)."""
    http_min_body_rate: float = Field(1024, ge=0, validation_alias=_env("HTTP_MIN_BODY_RATE"))
    """Bytes/s a request body must keep up with after the grace, else the connection closes (0: off)."""
    http_body_grace_s: float = Field(10, ge=0, validation_alias=_env("HTTP_BODY_GRACE_S"))
    """Seconds at the start of a request body before ``EARSHOT_HTTP_MIN_BODY_RATE`` applies."""
    max_json_bytes: int = Field(16 * 1024 * 1024, ge=1024, validation_alias=_env("MAX_JSON_BYTES"))
    """Largest JSON request body (bytes); larger answers 413 before parsing."""
    max_json_depth: int = Field(64, ge=2, le=10_000, validation_alias=_env("MAX_JSON_DEPTH"))
    """Deepest nesting of arrays/objects in a JSON request body; deeper answers 400 before parsing."""

    # --- durable jobs (issue 15: outbox, leases, sweeper) ---------------------------------
    job_lease_s: float | None = Field(None, gt=0, le=86_400, validation_alias=_env("JOB_LEASE_S"))
    """Lease of every background job kind, seconds (unset: each kind's default, docs/jobs.md)."""
    job_max_attempts: int | None = Field(None, ge=1, le=20, validation_alias=_env("JOB_MAX_ATTEMPTS"))
    """Requests of one background job step at most (unset: each kind's default)."""
    job_backoff_s: float = Field(2.0, ge=0, le=3600, validation_alias=_env("JOB_BACKOFF_S"))
    """Delay before a job's step is requested again, doubled per attempt (capped at 60 s)."""
    job_sweep_interval_s: float = Field(5.0, gt=0, le=3600, validation_alias=_env("JOB_SWEEP_INTERVAL_S"))
    """Seconds between two sweeps for expired job leases."""
    outbox_poll_s: float = Field(0.5, gt=0, le=60, validation_alias=_env("OUTBOX_POLL_S"))
    """Seconds between outbox relay passes when no commit woke it (other replicas' rows)."""

    # --- speech to text ------------------------------------------------------------------
    whisper_model: str | None = Field(None, validation_alias=_env("WHISPER_MODEL"))
    whisper_compute_type: str = Field("int8", validation_alias=_env("WHISPER_COMPUTE_TYPE"))
    whisper_threads: int = Field(0, ge=0, le=256, validation_alias=_env("WHISPER_THREADS"))
    whisper_beam_size: int = Field(1, ge=1, le=10, validation_alias=_env("WHISPER_BEAM_SIZE"))

    # --- providers (used by the analysis issue) -------------------------------------------
    openai_api_key: str | None = Field(None, validation_alias=_env("OPENAI_API_KEY", "OPENAI_API_KEY"))
    temperature_analyzer: Literal["local", "openai", "anthropic", "gemini"] = Field(
        "local", validation_alias=_env("TEMPERATURE_ANALYZER")
    )

    # --- access to the stateless routes (issue 11) ---------------------------------------
    # EARSHOT_API_KEYS: comma-separated keys (or sha256:<hex> digests). Only their SHA-256
    # digests are kept (services/common/api_keys.py); empty: the stateless routes are open.
    api_key_hashes: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=AliasChoices("EARSHOT_API_KEYS"), repr=False
    )

    @field_validator("allowed_extensions", mode="before")
    @classmethod
    def _split_extensions(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.replace(";", ",").split(",")]
        if isinstance(value, list | tuple):
            out = [str(v).strip().lower().lstrip(".") for v in value if str(v).strip()]
            if not out:
                raise ValueError("must name at least one extension, e.g. 'wav,mp3'")
            return out
        return value

    @field_validator("api_key_hashes", mode="before")
    @classmethod
    def _hash_api_keys(cls, value: Any) -> tuple[str, ...]:
        return parse_api_keys(value)

    @field_validator("bus_url")
    @classmethod
    def _check_bus_url(cls, value: str) -> str:
        if not value.startswith(("memory://", "kafka://")):
            raise ValueError("must start with memory:// or kafka://")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("storage_url")
    @classmethod
    def _check_storage_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("file://", "s3://", "s3+http://", "s3+https://")):
            raise ValueError("must start with file://, s3://, s3+http:// or s3+https://")
        return value

    # --- derived values ----------------------------------------------------------------
    @property
    def max_file_size_bytes(self) -> int:
        """``MAX_FILE_SIZE`` (MB) in bytes."""
        return int(self.max_file_size_mb * 1024 * 1024)

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside ``data_dir``."""
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'earshot.db').resolve()}"

    @property
    def effective_storage_url(self) -> str:
        """The storage URL, defaulting to a local folder inside ``data_dir``."""
        return self.storage_url or f"file://{(self.data_dir / 'objects').resolve()}"

    @property
    def effective_public_url(self) -> str:
        """Base URL clients reach the gateway at (used for presigned local URLs)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


S = TypeVar("S", bound=BaseSettings)


def env_names(model: type[BaseSettings], loc: str) -> list[str]:
    """Environment names of the field of ``model`` that a validation error location points at.

    ``loc`` is a field name (keyword overrides) or one of its aliases (values read from the
    environment). The names set in the environment come first; without aliases the name is
    ``EARSHOT_<FIELD>``; an unknown location is returned as is.
    """
    import os

    for name, info in model.model_fields.items():
        aliases = getattr(info.validation_alias, "choices", None) or (
            [info.validation_alias] if isinstance(info.validation_alias, str) else []
        )
        choices = [str(c) for c in aliases] or [f"EARSHOT_{name.upper()}"]
        if loc == name or loc in choices:
            unique = list(dict.fromkeys(choices))
            set_now = [c for c in unique if c in os.environ]
            return set_now or unique
    return [loc]


def _is_secret(model: type[BaseSettings], loc: str) -> bool:
    """Whether the field of ``model`` an error location points at is hidden from ``repr`` (a secret)."""
    for name, info in model.model_fields.items():
        aliases = getattr(info.validation_alias, "choices", None) or (
            [info.validation_alias] if isinstance(info.validation_alias, str) else []
        )
        if loc == name or loc in [str(c) for c in aliases]:
            return info.repr is False
    return False


def load_settings_class(model: type[S], label: str = "", **overrides: Any) -> S:
    """Read one settings class from the environment (keyword overrides win, by field name).

    The one translator of pydantic's errors for every settings class: each problem is shown as
    ``VARIABLE: why (got 'value')``, all on one line; the value of a secret field (``repr=False``)
    is never shown.

    Args:
        model: a ``pydantic_settings.BaseSettings`` subclass.
        label: what the settings are for, in the message ("analysis" gives "invalid analysis
            configuration: ..."); empty for the platform's own settings.

    Raises:
        ConfigurationError: one line naming the offending variable(s) and why.
    """
    try:
        return model(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = str(err["loc"][0]) if err["loc"] else "?"
            shown = " / ".join(env_names(model, loc))
            got = "" if _is_secret(model, loc) else " (got " + " ".join(repr(err.get("input")).split()) + ")"
            problems.append(f"{shown}: {err['msg']}{got}")
        what = f"{label} " if label else ""
        raise ConfigurationError(f"invalid {what}configuration: " + "; ".join(problems)) from None


def load_settings(**overrides: Any) -> Settings:
    """Read the platform settings from the environment (keyword overrides win, by field name).

    Raises:
        ConfigurationError: one message naming the offending variable(s) and why.
    """
    return load_settings_class(Settings, **overrides)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
