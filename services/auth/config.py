"""The auth service's settings (pydantic-settings), read from the environment.

Seed names are accepted where the seeds give them: ``JWT_ACCESS_TOKEN_EXPIRE_HOURS`` /
``JWT_REFRESH_TOKEN_EXPIRE_DAYS`` (seed 003), ``JWT_ACCESS_TOKEN_EXPIRES`` in seconds
(seed 004), ``COMPANY_DOMAINS``, ``GOOGLE_*`` and ``MICROSOFT_*`` (seed 003). Everything
else carries the ``EARSHOT_AUTH_`` prefix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.common.settings import load_settings_class


def _env(name: str, *seed_names: str) -> Any:
    return AliasChoices(f"EARSHOT_AUTH_{name}", *seed_names)


class AuthConfig(BaseSettings):
    """Settings of the auth service. Defaults suit the embedded mode.

    Token lifetimes: ``access_token_ttl_s`` wins when set through
    ``JWT_ACCESS_TOKEN_EXPIRE_MINUTES`` (minutes), ``JWT_ACCESS_TOKEN_EXPIRE_HOURS``
    (hours) or ``JWT_ACCESS_TOKEN_EXPIRES`` (seconds); default 15 minutes.
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- tokens ------------------------------------------------------------------------
    issuer: str = Field("earshot-auth", validation_alias=_env("ISSUER", "JWT_ISSUER"))
    audience: str = Field("earshot", validation_alias=_env("AUDIENCE", "JWT_AUDIENCE"))
    access_expire_minutes: float | None = Field(
        None, gt=0, validation_alias=AliasChoices("JWT_ACCESS_TOKEN_EXPIRE_MINUTES")
    )
    access_expire_hours: float | None = Field(
        None, gt=0, validation_alias=AliasChoices("JWT_ACCESS_TOKEN_EXPIRE_HOURS")
    )
    access_expires_s: int | None = Field(
        None, gt=0, validation_alias=AliasChoices("JWT_ACCESS_TOKEN_EXPIRES")
    )
    refresh_expire_days: float = Field(
        7, gt=0, validation_alias=_env("REFRESH_EXPIRE_DAYS", "JWT_REFRESH_TOKEN_EXPIRE_DAYS")
    )
    # Signing keys: a PEM in EARSHOT_AUTH_PRIVATE_KEY and/or PEM files (PKCS#8 Ed25519 or RSA >= 2048
    # bits). When none is given, an
    # Ed25519 key is generated once into <data_dir>/auth-keys/. Every key in keys_dir is
    # published in the JWKS; the active one (by kid, else the newest file) signs.
    private_key_files: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, validation_alias=_env("PRIVATE_KEY_FILES", "JWT_PRIVATE_KEY_FILE")
    )
    private_key_pem: str | None = Field(
        None, validation_alias=_env("PRIVATE_KEY", "JWT_PRIVATE_KEY"), repr=False
    )
    keys_dir: Path | None = Field(None, validation_alias=_env("KEYS_DIR"))
    active_kid: str | None = Field(None, validation_alias=_env("ACTIVE_KID"))

    # --- passwords ---------------------------------------------------------------------
    password_min_length: int = Field(8, ge=6, le=128, validation_alias=_env("PASSWORD_MIN_LENGTH"))
    password_max_length: int = Field(256, ge=16, le=4096, validation_alias=_env("PASSWORD_MAX_LENGTH"))
    argon2_time_cost: int = Field(3, ge=1, le=20, validation_alias=_env("ARGON2_TIME_COST"))
    argon2_memory_kib: int = Field(
        65536, ge=8192, le=4 * 1024 * 1024, validation_alias=_env("ARGON2_MEMORY_KIB")
    )
    argon2_parallelism: int = Field(4, ge=1, le=64, validation_alias=_env("ARGON2_PARALLELISM"))

    # --- abuse limits ------------------------------------------------------------------
    account_max_failures: int = Field(5, ge=1, le=1000, validation_alias=_env("ACCOUNT_MAX_FAILURES"))
    address_max_failures: int = Field(20, ge=1, le=100000, validation_alias=_env("ADDRESS_MAX_FAILURES"))
    address_max_signups: int = Field(10, ge=0, le=1_000_000, validation_alias=_env("ADDRESS_MAX_SIGNUPS"))
    """Sign-ups one client address may make within ``failure_window_s`` before it is locked
    out like a failed-login address (429 with ``Retry-After``); 0 turns the limit off."""
    lockout_base_s: float = Field(30, gt=0, le=86400, validation_alias=_env("LOCKOUT_BASE_S"))
    lockout_max_s: float = Field(3600, gt=0, le=7 * 86400, validation_alias=_env("LOCKOUT_MAX_S"))
    failure_window_s: float = Field(3600, gt=0, validation_alias=_env("FAILURE_WINDOW_S"))

    # --- OAuth / OpenID Connect (seed 003) ---------------------------------------------
    company_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("COMPANY_DOMAINS", "EARSHOT_AUTH_COMPANY_DOMAINS")
    )
    public_url: str = Field("http://127.0.0.1:8000", validation_alias=AliasChoices("EARSHOT_PUBLIC_URL"))
    google_client_id: str | None = Field(None, validation_alias=AliasChoices("GOOGLE_CLIENT_ID"))
    google_client_secret: str | None = Field(None, validation_alias=AliasChoices("GOOGLE_CLIENT_SECRET"))
    google_redirect_uri: str | None = Field(None, validation_alias=AliasChoices("GOOGLE_REDIRECT_URI"))
    google_issuer: str = Field(
        "https://accounts.google.com",
        validation_alias=AliasChoices("GOOGLE_ISSUER", "EARSHOT_AUTH_GOOGLE_ISSUER"),
    )
    microsoft_client_id: str | None = Field(None, validation_alias=AliasChoices("MICROSOFT_CLIENT_ID"))
    microsoft_client_secret: str | None = Field(
        None, validation_alias=AliasChoices("MICROSOFT_CLIENT_SECRET")
    )
    microsoft_tenant_id: str = Field("common", validation_alias=AliasChoices("MICROSOFT_TENANT_ID"))
    microsoft_redirect_uri: str | None = Field(None, validation_alias=AliasChoices("MICROSOFT_REDIRECT_URI"))
    microsoft_authority: str = Field(
        "https://login.microsoftonline.com",
        validation_alias=AliasChoices("MICROSOFT_AUTHORITY", "EARSHOT_AUTH_MICROSOFT_AUTHORITY"),
    )
    oauth_state_ttl_s: float = Field(600, gt=0, validation_alias=_env("OAUTH_STATE_TTL_S"))
    oauth_http_timeout_s: float = Field(10, gt=0, validation_alias=_env("OAUTH_HTTP_TIMEOUT_S"))

    @field_validator("company_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace(";", ",").split(",")
        if isinstance(value, list | tuple):
            return [str(v).strip().lower().lstrip("@") for v in value if str(v).strip()]
        return value

    @field_validator("private_key_files", mode="before")
    @classmethod
    def _split_files(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
        return value

    @model_validator(mode="after")
    def _check_lockout(self) -> AuthConfig:
        if self.lockout_max_s < self.lockout_base_s:
            raise ValueError("EARSHOT_AUTH_LOCKOUT_MAX_S must be >= EARSHOT_AUTH_LOCKOUT_BASE_S")
        return self

    @property
    def access_token_ttl_s(self) -> int:
        """Access-token lifetime in seconds (see class docstring)."""
        if self.access_expire_minutes:
            return int(self.access_expire_minutes * 60)
        if self.access_expire_hours:
            return int(self.access_expire_hours * 3600)
        if self.access_expires_s:
            return int(self.access_expires_s)
        return 15 * 60

    @property
    def refresh_token_ttl_s(self) -> int:
        """Refresh-token (and session) lifetime in seconds."""
        return int(self.refresh_expire_days * 86400)

    def redirect_uri(self, provider: str, surface: str) -> str:
        """The redirect URI registered with ``provider`` for ``surface`` (mobile or web).

        The configured ``<PROVIDER>_REDIRECT_URI`` is the mobile one (as in seed 003); the
        web one swaps ``/mobile/`` for ``/web/``. Without configuration the gateway's public
        URL is used.
        """
        configured = self.google_redirect_uri if provider == "google" else self.microsoft_redirect_uri
        base = configured or f"{self.public_url.rstrip('/')}/api/v1/mobile/auth/{provider}/callback"
        return base.replace("/mobile/", f"/{surface}/") if surface != "mobile" else base


def load_auth_config(**overrides: Any) -> AuthConfig:
    """Read :class:`AuthConfig` from the environment (overrides win, by field name).

    Raises:
        ConfigurationError: naming the offending variable(s).
    """
    return load_settings_class(AuthConfig, "auth", **overrides)
