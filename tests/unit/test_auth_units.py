"""Auth building blocks: keys and JWTs, passwords, failed-login limits, settings, isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi import FastAPI

from services.auth.config import load_auth_config
from services.auth.keys import KeyRing, SigningKey, jwk_thumbprint, load_keyring
from services.auth.limits import LoginLimiter
from services.auth.passwords import PasswordPolicy, PasswordService, WeakInput, normalize_email
from services.auth.service import MIGRATIONS, VERSION_TABLE
from services.common import db
from services.common.settings import ConfigurationError
from services.gateway.deps import AuthenticatedUser, CurrentUser, owned_or_404
from services.gateway.shared.errors import ApiError, install_error_handlers


def _pem(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# --- keys -------------------------------------------------------------------------------
def test_generated_key_is_reused_and_published(tmp_path: Path) -> None:
    ring = load_keyring([], tmp_path / "keys")
    files = list((tmp_path / "keys").glob("*.pem"))
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == "0o600"
    again = load_keyring([], tmp_path / "keys")
    assert again.active.kid == ring.active.kid and ring.active.alg == "EdDSA"
    jwks = ring.jwks()
    assert jwks["keys"][0]["kid"] == ring.active.kid and "d" not in jwks["keys"][0]


def test_rfc7638_thumbprint_example() -> None:
    # RFC 7638 section 3.1 example key and its thumbprint.
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJE"
            "CPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
            "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
            "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_rotation_by_newest_file_and_active_kid(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "0001.pem").write_bytes(_pem(ed25519.Ed25519PrivateKey.generate()))
    (folder / "0002.pem").write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    ring = load_keyring([], folder)
    assert ring.active.alg == "RS256" and len(ring.keys) == 2
    old = next(k for k in ring.keys.values() if k.alg == "EdDSA")
    pinned = load_keyring([], folder, active_kid=old.kid)
    assert pinned.active.kid == old.kid
    token, claims = pinned.issue(
        issuer="i", audience="a", user_id="u", email="e@x.io", name="n", session_id="s", ttl_s=60
    )
    public = jwt.PyJWK(pinned.jwks()["keys"][0])
    assert jwt.decode(token, public, algorithms=["EdDSA"], audience="a")["sid"] == "s"
    with pytest.raises(ValueError, match="ACTIVE_KID"):
        load_keyring([], folder, active_kid="nope")


@pytest.mark.parametrize(
    "pem",
    [
        b"not a key",
        _pem(ec.generate_private_key(ec.SECP256R1())),
        _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
    ],
)
def test_unusable_keys_are_refused(pem: bytes) -> None:
    with pytest.raises(ValueError):
        SigningKey.from_pem(pem)


def test_issue_sets_every_claim() -> None:
    ring = KeyRing([SigningKey.from_pem(_pem(ed25519.Ed25519PrivateKey.generate()))])
    token, claims = ring.issue(
        issuer="iss",
        audience="aud",
        user_id="u1",
        email="a@b.co",
        name="A",
        session_id="s1",
        ttl_s=900,
        now=1000,
    )
    assert claims["exp"] - claims["iat"] == 900 and claims["nbf"] == 1000
    assert {"iss", "aud", "sub", "email", "iat", "exp", "jti"} <= set(claims)
    assert jwt.get_unverified_header(token)["kid"] == ring.active.kid


# --- passwords --------------------------------------------------------------------------
def test_argon2id_hash_verify_and_rehash_on_parameter_change() -> None:
    weak = PasswordService(time_cost=1, memory_kib=8192, parallelism=1)
    stored = weak.hash("sturdy-password-42")
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert weak.verify(stored, "sturdy-password-42") == (True, False)
    assert weak.verify(stored, "wrong-password-42") == (False, False)
    stronger = PasswordService(time_cost=2, memory_kib=16384, parallelism=1)
    assert stronger.verify(stored, "sturdy-password-42") == (True, True)
    assert stronger.verify(None, "anything") == (False, False)
    assert stronger.verify("garbage", "anything") == (False, False)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 8"),
        ("x" * 257, "at most 256"),
        ("Password123", "too easy"),
        ("zzzzzzzzzz", "too easy"),
        ("ada.lovelace", "email"),
    ],
)
def test_password_policy(password: str, message: str) -> None:
    with pytest.raises(WeakInput, match=message):
        PasswordPolicy(8, 256).check(password, "ada.lovelace@example.com")
    PasswordPolicy(8, 256).check("sturdy-password-42", "ada@example.com")


def test_email_normalisation() -> None:
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"
    assert normalize_email("ａｄａ@example.com") == "ada@example.com"  # NFKC folds full-width letters
    for bad in ("", "ada", "ada@", "@x.io", "a b@x.io", "a@b", "a@@b.io", f"{'a' * 250}@x.io"):
        with pytest.raises(WeakInput):
            normalize_email(bad)


# --- failed-login limits ------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def database(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)
    engines = [db.create_engine(url), db.create_engine(url)]
    try:
        yield [db.session_factory(e) for e in engines]
    finally:
        for e in engines:
            await e.dispose()


async def test_lockout_grows_and_expires(database) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    limiter = LoginLimiter(database[0], base_s=30, max_s=100, window_s=3600, clock=clock)
    key = [("account:a@x.io", 3)]
    assert await limiter.record_failure(key) == 0
    assert await limiter.record_failure(key) == 0
    assert await limiter.record_failure(key) == 30  # third failure: first lockout, 30 s
    assert await limiter.retry_after(["account:a@x.io"]) == 30
    clock.advance(29.5)
    assert await limiter.retry_after(["account:a@x.io"]) == 1
    clock.advance(0.5)
    assert await limiter.retry_after(["account:a@x.io"]) == 0  # expired
    for _ in range(2):
        await limiter.record_failure(key)
    assert await limiter.record_failure(key) == 60  # second lockout doubles
    clock.advance(60)
    for _ in range(2):
        await limiter.record_failure(key)
    assert await limiter.record_failure(key) == 100  # capped at max_s
    clock.advance(100 + 3601)
    for _ in range(2):
        await limiter.record_failure(key)
    assert await limiter.record_failure(key) == 30  # a quiet hour forgives earlier lockouts
    await limiter.reset("account:a@x.io")
    assert await limiter.retry_after(["account:a@x.io"]) == 0


async def test_limits_are_shared_by_replicas(database) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    first = LoginLimiter(database[0], base_s=10, max_s=60, window_s=3600, clock=clock)
    second = LoginLimiter(database[1], base_s=10, max_s=60, window_s=3600, clock=clock)
    key = [("address:10.0.0.1", 4)]
    await asyncio.gather(first.record_failure(key), second.record_failure(key))
    await first.record_failure(key)
    assert await second.record_failure(key) == 10
    assert await first.retry_after(["address:10.0.0.1", "account:other"]) == 10


# --- settings ---------------------------------------------------------------------------
def test_token_lifetime_names_from_the_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_auth_config().access_token_ttl_s == 900
    monkeypatch.setenv("JWT_ACCESS_TOKEN_EXPIRE_HOURS", "6")
    monkeypatch.setenv("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "7")
    config = load_auth_config()
    assert config.access_token_ttl_s == 6 * 3600 and config.refresh_token_ttl_s == 7 * 86400
    monkeypatch.setenv("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "5")
    assert load_auth_config().access_token_ttl_s == 300
    monkeypatch.setenv("COMPANY_DOMAINS", "YourCompany.com, @partner.com")
    assert load_auth_config().company_domains == ["yourcompany.com", "partner.com"]


def test_invalid_auth_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_ACCESS_TOKEN_EXPIRE_HOURS", "-1")
    with pytest.raises(ConfigurationError, match="JWT_ACCESS_TOKEN_EXPIRE_HOURS"):
        load_auth_config()


def test_redirect_uris_per_surface() -> None:
    config = load_auth_config(public_url="https://api.example.com")
    assert (
        config.redirect_uri("google", "mobile")
        == "https://api.example.com/api/v1/mobile/auth/google/callback"
    )
    assert (
        config.redirect_uri("microsoft", "web")
        == "https://api.example.com/api/v1/web/auth/microsoft/callback"
    )


# --- isolation helper -------------------------------------------------------------------
USER = AuthenticatedUser(
    id="u1", email="a@x.io", name="A", session_id="s", token_id="j", expires_at=0, claims={}
)


def test_owned_or_404() -> None:
    mine = {"id": "m1", "user_id": "u1"}
    assert owned_or_404(mine, USER) is mine
    for record in (None, {"id": "m2", "user_id": "u2"}, {"id": "m3"}):
        with pytest.raises(ApiError) as caught:
            owned_or_404(record, USER, what="meeting")
        assert caught.value.status == 404 and "meeting" in caught.value.details

    class Row:
        owner_id = "u1"

    assert isinstance(owned_or_404(Row(), USER, owner="owner_id"), Row)


async def test_isolation_through_a_route() -> None:
    from services.gateway.deps import current_user

    records = {
        "a": {"id": "a", "user_id": "u1", "text": "mine"},
        "b": {"id": "b", "user_id": "u2", "text": "theirs"},
    }
    app = FastAPI()
    install_error_handlers(app)
    app.dependency_overrides[current_user] = lambda: USER

    @app.get("/records/{record_id}")
    async def read(record_id: str, user: CurrentUser) -> dict[str, str]:
        return owned_or_404(records.get(record_id), user)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/records/a")).json()["text"] == "mine"
        other, missing = await c.get("/records/b"), await c.get("/records/zzz")
    assert other.status_code == missing.status_code == 404
    assert other.json()["details"] == missing.json()["details"]
    assert "theirs" not in other.text


# --- migrations -------------------------------------------------------------------------
async def test_auth_models_match_migrations_and_downgrade(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    from services.auth.models import Base

    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await db.run_migrations_async(url, MIGRATIONS, VERSION_TABLE)
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(
                        c,
                        opts={
                            "compare_type": True,
                            "version_table": VERSION_TABLE,
                            "include_name": lambda name, type_, parents: (
                                type_ != "table" or name in Base.metadata.tables
                            ),
                        },
                    ),
                    Base.metadata,
                )
            )
            assert diffs == []
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert set(Base.metadata.tables) | {VERSION_TABLE} <= tables
        await db.downgrade_async(url, MIGRATIONS, VERSION_TABLE, "base")
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert not (set(Base.metadata.tables) & left)
    finally:
        await engine.dispose()


def test_key_from_settings_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)).decode()
    monkeypatch.setenv("EARSHOT_AUTH_PRIVATE_KEY", pem)
    config = load_auth_config()
    ring = load_keyring([], tmp_path / "none", None, (config.private_key_pem or "",))
    assert ring.active.alg == "RS256" and not (tmp_path / "none").exists()  # nothing generated
    assert pem not in repr(config)


def test_unknown_account_costs_one_argon2_verification() -> None:
    """Timing safety: a login for an unknown email does the same argon2 work as a wrong password."""
    service = PasswordService(time_cost=1, memory_kib=8192, parallelism=1)
    stored = service.hash("sturdy-password-42")
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            calls.append(str(hash).split("$")[3])  # the parameters used
            return super().verify(hash, password)

    service.hasher = Counting(time_cost=1, memory_cost=8192, parallelism=1)
    assert service.verify(None, "guess-password-1") == (False, False)
    assert service.verify(stored, "guess-password-1") == (False, False)
    assert calls == ["m=8192,t=1,p=1", "m=8192,t=1,p=1"]
