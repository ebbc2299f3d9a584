"""Settings: prefixes, seed variable names, and one clear message for bad configuration."""

from __future__ import annotations

import pytest

from services.common.settings import ConfigurationError, load_settings


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
