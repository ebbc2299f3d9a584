"""Settings: prefixes, seed variable names, and one clear message for bad configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from services.common.settings import ConfigurationError, env_names, load_settings, load_settings_class
from services.platform import SERVICES, settings_classes


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_FILE_SIZE", "ALLOWED_EXTENSIONS", "EARSHOT_BUS_URL", "EARSHOT_DATABASE_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings()
    assert s.bus_url == "memory://"
    assert s.allowed_extensions == ["wav", "mp3", "m4a", "flac", "ogg"]
    assert s.max_file_size_bytes == 25 * 1024 * 1024
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.effective_storage_url.startswith("file:///")


def test_seed_names_and_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_FILE_SIZE", "10")
    monkeypatch.setenv("ALLOWED_EXTENSIONS", "WAV, .flac")
    monkeypatch.setenv("EARSHOT_BUS_URL", "kafka://broker:9092")
    s = load_settings()
    assert s.max_file_size_mb == 10
    assert s.allowed_extensions == ["wav", "flac"]
    assert s.bus_url == "kafka://broker:9092"


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("MAX_FILE_SIZE", "lots", "MAX_FILE_SIZE"),
        ("EARSHOT_BUS_URL", "redis://x", "EARSHOT_BUS_URL"),
        ("EARSHOT_DATABASE_URL", "mysql://x", "EARSHOT_DATABASE_URL"),
        ("EARSHOT_PORT", "70000", "EARSHOT_PORT"),
        ("ALLOWED_EXTENSIONS", " , ", "ALLOWED_EXTENSIONS"),
    ],
)
def test_invalid_configuration_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid configuration: ")
    assert named in message
    assert "\n" not in message


# --- one translator for every settings class; every class validated at start-up ----------------
BAD = "¿not-valid?"
ROOT = Path(__file__).resolve().parents[2]


def _every_settings_class() -> list[type[BaseSettings]]:
    return settings_classes(SERVICES)


def test_every_settings_class_is_found() -> None:
    names = {c.__name__ for c in _every_settings_class()}
    assert {
        "Settings",
        "AuthConfig",
        "TranscriptionSettings",
        "AnalysisSettings",
        "AncSettings",
        "MediaSettings",
        "GatewayAuthConfig",
        "PhotoSettings",
    } <= names


@pytest.mark.parametrize("model", _every_settings_class(), ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_settings_class_names_the_bad_variable(
    monkeypatch: pytest.MonkeyPatch, model: type[BaseSettings]
) -> None:
    """Each field that rejects a nonsense value is reported by its own variable name, once, on one line."""
    refused = 0
    for field in model.model_fields:
        variable = env_names(model, field)[0]
        with monkeypatch.context() as env:
            for other in list(os.environ):
                if other.startswith("EARSHOT_"):
                    env.delenv(other)
            env.setenv(variable, BAD)
            try:
                load_settings_class(model, "test")
            except ConfigurationError as exc:
                message = str(exc)
                refused += 1
                assert message.startswith("invalid test configuration: "), message
                assert f"{variable}: " in message, message
                # A secret (repr=False, e.g. EARSHOT_API_KEYS) is never echoed; other values are.
                assert (BAD in message) is model.model_fields[field].repr, message
                assert message.count(variable) == 1 and "\n" not in message, message
    assert refused >= 1, f"no field of {model.__name__} refused {BAD!r}"


def test_photo_variable_is_named_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.gateway.products.photos.service import load_photo_settings

    monkeypatch.setenv("EARSHOT_PHOTO_MAX_ATTEMPTS", "99")
    with pytest.raises(ConfigurationError) as info:
        load_photo_settings()
    assert str(info.value).startswith("invalid photo configuration: EARSHOT_PHOTO_MAX_ATTEMPTS: ")
    assert "EARSHOT_PHOTO_EARSHOT_PHOTO" not in str(info.value)


@pytest.mark.parametrize(
    ("loader", "variable", "value"),
    [
        ("services.analysis.config:load_analysis_settings", "EARSHOT_LLM_MAX_ATTEMPTS", "0"),
        ("services.auth.config:load_auth_config", "JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "never"),
        ("services.anc.config:load_anc_settings", "ANC_BLOCK_SIZE", "1000"),
        ("services.media.config:load_media_settings", "EARSHOT_MEDIA_CLAUDE_TIMEOUT_S", "-1"),
        (
            "services.transcription.config:load_transcription_settings",
            "EARSHOT_TRANSCRIPTION_ENGINE",
            "vinyl",
        ),
        ("services.gateway.products.photos.service:load_photo_settings", "EARSHOT_PHOTO_MAX_SIDE", "1"),
        ("services.gateway.shared.tokens:load_gateway_auth_config", "EARSHOT_GATEWAY_JWT_LEEWAY_S", "-3"),
    ],
)
def test_each_service_loader_uses_the_one_translator(
    monkeypatch: pytest.MonkeyPatch, loader: str, variable: str, value: str
) -> None:
    import importlib

    module, name = loader.split(":")
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        getattr(importlib.import_module(module), name)()
    message = str(info.value)
    assert f"configuration: {variable}: " in message and f"(got '{value}')" in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        (["up"], "EARSHOT_GATEWAY_JWT_LEEWAY_S", "soon"),
        (["serve", "gateway"], "EARSHOT_PHOTO_MAX_ATTEMPTS", "99"),
        (["serve", "analysis"], "EARSHOT_LLM_MAX_ATTEMPTS", "0"),
        (["serve", "anc"], "ANC_BLOCK_SIZE", "1000"),
    ],
)
def test_start_up_stops_on_any_invalid_setting(
    tmp_path: Path, command: list[str], variable: str, value: str
) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "EARSHOT_DATA_DIR": str(tmp_path),
        variable: value,
    }
    out = subprocess.run(
        [sys.executable, "-m", "services.cli", *command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("earshot: invalid "), out.stderr
    assert f"{variable}: " in lines[0] and repr(value) in lines[0]
